"""The bot's own messages (/help, /rates with and without warnings, refusal, failure) in
every locale, as ``check`` and ``preview`` render them from the offline rates (through the
snapshot kit's ``crypto_helper_screens``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.messages import BOT_TEMPLATES
from engine.preview import Screen

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def screens(crypto_helper_screens) -> dict[tuple[str, str, str], Screen]:
    """The bot's messages as the snapshot kit renders them (a config with problems fails)."""
    rendered = crypto_helper_screens(ROOT / "config.yaml")
    return {(s.step, s.locale, s.case): s for s in rendered if s.flow == "bot"}


def test_every_bot_message_is_rendered_in_every_locale(
    screens: dict[tuple[str, str, str], Screen],
) -> None:
    assert {(name, locale) for name, locale, _ in screens} == {
        (name, locale) for name in BOT_TEMPLATES for locale in ("ru", "en")
    }
    assert ("rates", "en", "warnings") in screens


def test_bot_messages(screens: dict[tuple[str, str, str], Screen], snapshot) -> None:
    rendered = {
        f"{name} {locale} {case}": s.text for (name, locale, case), s in sorted(screens.items())
    }
    assert rendered == snapshot
