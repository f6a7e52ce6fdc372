"""Every journal text in every locale, as check and preview render it: /history (mine,
all, empty), /today (quotes, empty), each journal string, the CSV header row."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.definitions import load_definitions
from engine.flow.services import FlowServices
from engine.journal.export import export_csv
from engine.journal.texts import JOURNAL_TEMPLATES, string_samples
from engine.preview import preview_all
from engine.rates.offline import create_offline_rates
from engine.testing.snapshots import FIXED_IDENTITY
from engine.texts import REQUIRED_STRINGS

ROOT = Path(__file__).resolve().parents[3]
DEFS = load_definitions(ROOT / "config.yaml")
LOCALES = ("ru", "en")


@pytest.fixture
async def screens() -> dict[str, str]:
    rates = create_offline_rates(DEFS.config)
    result = await preview_all(DEFS, FlowServices(rates, identity=FIXED_IDENTITY))
    await rates.close()
    assert result.problems == []
    return {f"{s.step} {s.locale} {s.case}": s.text for s in result.screens if s.flow == "journal"}


def test_every_journal_message_is_rendered_in_every_locale(screens: dict[str, str]) -> None:
    assert set(screens) == {
        *(f"history {loc} {case}" for loc in LOCALES for case in ("mine", "all", "empty")),
        *(f"today {loc} {case}" for loc in LOCALES for case in ("quotes", "empty")),
    }
    assert {key.split()[0] for key in screens} == set(JOURNAL_TEMPLATES)


def test_journal_messages(screens: dict[str, str], snapshot) -> None:
    assert dict(sorted(screens.items())) == snapshot


@pytest.mark.parametrize("locale", LOCALES)
def test_journal_strings(locale: str, snapshot) -> None:
    samples = string_samples(DEFS.config)
    assert set(samples) == set(REQUIRED_STRINGS["journal"])
    rendered = {
        key: DEFS.renderer.string(locale, "journal", key, params)
        for key, params in samples.items()
    }
    assert rendered == snapshot


@pytest.mark.parametrize("locale", LOCALES)
def test_csv_header(locale: str, snapshot) -> None:
    header = export_csv([], DEFS.config, DEFS.renderer, locale).decode("utf-8-sig")
    assert header == snapshot
