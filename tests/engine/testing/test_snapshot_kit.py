"""The snapshot kit (``engine.testing``): a pytest plugin a desk gets with the package.

The desk's side runs in a fresh pytest process (``pytester``) on a copy of the shipped
config, with the README's five-line test file: the first run writes the snapshot, the next
passes, an edited template fails with the changed line, a broken config with check's words.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram_dialog.utils import CB_SEP

from engine.testing.snapshots import (
    INTENT_SEPARATOR,
    mask_intent,
    mask_times,
    message_screen,
    screen_text,
)

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.slow  # runs a desk's pytest (pytester), renders every window

DESK_TEST = """\
def test_windows(crypto_helper_windows, snapshot):
    assert crypto_helper_windows("config.yaml") == snapshot
"""


@pytest.fixture
def desk(pytester: pytest.Pytester) -> pytest.Pytester:
    """A desk's fork: the shipped config, flows and templates, and its one test file."""
    shutil.copy(ROOT / "config.yaml", pytester.path / "config.yaml")
    shutil.copytree(ROOT / "flows", pytester.path / "flows")
    shutil.copytree(ROOT / "templates", pytester.path / "templates")
    pytester.makeini("[pytest]\n")  # the desk's root folder: "config.yaml" is found here
    pytester.makepyfile(test_windows=DESK_TEST)
    return pytester


def test_a_desk_writes_checks_and_breaks_its_snapshot(desk: pytest.Pytester) -> None:
    first = desk.runpytest_subprocess("--snapshot-update", "-p", "no:cacheprovider")
    first.assert_outcomes(passed=1)
    first.stdout.fnmatch_lines(["*1 snapshot generated*"])
    amber = (desk.path / "__snapshots__" / "test_windows.ambr").read_text(encoding="utf-8")
    assert "'exchange.result [en] RUB→USDT': '''" in amber
    assert "[🔄 New quote | <intent>:" in amber  # the intent id, masked
    assert CB_SEP not in amber
    assert "rate fetched just now" in amber  # a clock that never moves: no age to mask

    desk.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)

    result_en = desk.path / "templates" / "en" / "result.j2"
    text = result_en.read_text(encoding="utf-8")
    result_en.write_text(text.replace("Client gets:", "The client gets:"), encoding="utf-8")
    changed = desk.runpytest_subprocess("-p", "no:cacheprovider")
    changed.assert_outcomes(failed=1)
    changed.stdout.fnmatch_lines(["*-*Client gets: <b>*", "*+*The client gets: <b>*"])


def test_the_readme_shows_this_very_file() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert DESK_TEST in readme


def test_a_broken_config_fails_with_what_check_says(desk: pytest.Pytester) -> None:
    config = desk.path / "config.yaml"
    text = config.read_text(encoding="utf-8")
    assert text.count("    decimals: 0\n") == 1
    config.write_text(text.replace("    decimals: 0\n", "    decimals: 20\n"), encoding="utf-8")
    result = desk.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    line = text[: text.index("    decimals: 0\n")].count("\n") + 1
    assert (
        "crypto_helper_windows('config.yaml'):\n"
        f"config.yaml:{line}:15: currencies[IDR].decimals: must be at most 8 (it is 20)\n"
        "1 problem(s) found.\n"
    ) in result.stdout.str()
    assert "Traceback" not in result.stdout.str()


def test_a_project_that_does_not_use_the_kit_pays_nothing(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(
        test_plain="""\
import sys

def test_nothing_of_the_engine_is_imported():
    loaded = {"engine.preview", "engine.definitions", "aiogram", "jinja2"} & set(sys.modules)
    assert not loaded, loaded
"""
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    listed = pytester.runpytest_subprocess("--fixtures", "-p", "no:cacheprovider")
    listed.stdout.fnmatch_lines(["*crypto_helper_windows*", "*crypto_helper_screens*"])


def test_importing_the_plugin_imports_no_engine() -> None:
    code = (
        "import sys, engine.testing.plugin; "
        "print(sorted(m for m in sys.modules if m.startswith(('engine.', 'aiogram', 'jinja2'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['engine.testing', 'engine.testing.plugin']"


# -- the fixtures in this project's own run ---------------------------------------------------


def test_windows_chosen_like_preview(crypto_helper_windows) -> None:
    windows = crypto_helper_windows(
        ROOT / "config.yaml", locale="EN", step="result", case="rub->usdt"
    )
    assert "exchange.result [en] RUB→USDT" in windows
    assert all(name.startswith("exchange.result [en] RUB→USDT") for name in windows)
    text = windows["exchange.result [en] RUB→USDT"]
    assert text.endswith(
        "\n[← Back | <intent>:result.back]  [🔄 New quote | <intent>:result.new_deal]"
    )


def test_one_quote_number_and_time_while_rendering(crypto_helper_windows) -> None:
    """Every card shows QUOTE_NUMBER, not a fresh random one (the kit's own identity, so
    nothing else's quotes change)."""
    from engine.flow.services import QuoteIdentity
    from engine.testing.snapshots import QUOTE_NUMBER

    first = crypto_helper_windows(ROOT / "config.yaml", step="result")
    assert QuoteIdentity().number() != QUOTE_NUMBER
    assert crypto_helper_windows(ROOT / "config.yaml", step="result") == first
    assert all(QUOTE_NUMBER in text for name, text in first.items() if "error" not in name)


def test_a_filter_matching_nothing_fails_with_the_choices(crypto_helper_windows) -> None:
    with pytest.raises(pytest.fail.Exception) as failed:
        crypto_helper_windows(ROOT / "config.yaml", locale="de")
    assert str(failed.value).splitlines()[1:] == [
        "--locale 'de' matches nothing",
        "valid locales: en, ru",
    ]


def test_every_window_of_check_is_there(crypto_helper_windows, crypto_helper_screens) -> None:
    screens = crypto_helper_screens(ROOT / "config.yaml")
    windows = crypto_helper_windows(ROOT / "config.yaml")
    assert len(windows) == len(screens) > 100
    assert {name.split(" ")[0] for name in windows} >= {"exchange.source", "bot.help"}


# -- masking ----------------------------------------------------------------------------------


def test_the_separator_is_aiogram_dialogs() -> None:
    assert INTENT_SEPARATOR == CB_SEP


def test_mask_intent() -> None:
    assert mask_intent(f"aB3xYz{CB_SEP}result.back") == "<intent>:result.back"
    assert mask_intent("new_deal") == "new_deal"  # not a dialog's button: as it is


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("updated 10:32", "updated <time>"),
        ("at 9:05:59 today", "at <time> today"),
        ("2025-12-01T10:32:05.123+03:00 and 2025-12-01 10:32", "<datetime> and <datetime>"),
        ("as of 2025-12-01", "as of <date>"),
        ("курс ЦБ на 01.12.2025", "курс ЦБ на <date>"),
        (
            "1 USDT = 85.30 RUB, 1 000 000,50 ₽, 2.5%, 1,000.00",
            "1 USDT = 85.30 RUB, 1 000 000,50 ₽, 2.5%, 1,000.00",
        ),
    ],
)
def test_mask_times(text: str, masked: str) -> None:
    assert mask_times(text) == masked


def test_a_message_as_a_snapshot_holds_it() -> None:
    markup = InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(text="← Back", callback_data=f"q1w2{CB_SEP}result.back"),
                InlineKeyboardButton(text="Site", url="https://example.org"),
            ],
        ]
    )
    message = Message.model_validate(
        {
            "message_id": 1,
            "date": 0,
            "chat": {"id": 1, "type": "private"},
            "text": "Rate at 10:32",
            "reply_markup": markup,
        }
    )
    assert message_screen(message) == "Rate at <time>\n[← Back | <intent>:result.back]  [Site]"
    assert screen_text("10:32", [], times=False) == "10:32"
