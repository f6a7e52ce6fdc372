"""crypto-helper check renders the inline quotes' texts (strings.yaml ``inline``) as an
inline query's answer shows them, and reports one that cannot be shown, or is too long for
its one line, at its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.check import run_check
from engine.definitions import load_definitions
from engine.flow.oneline import sample_rejections
from engine.inline import InlineQuotes, sample_cases
from engine.texts import REQUIRED_STRINGS

pytestmark = pytest.mark.slow  # each test runs crypto-helper check: every window, every locale


def test_every_one_line_refusal_has_an_inline_text() -> None:
    codes = set(REQUIRED_STRINGS["oneline"]) - {"understood"}
    assert codes <= set(REQUIRED_STRINGS["inline"])


def test_every_inline_text_is_rendered_by_check(project: Path) -> None:
    defs = load_definitions("config.yaml")
    quotes = InlineQuotes(defs.flows[0], defs.config, defs.renderer, cut=False)
    for locale in defs.renderer.locales:
        keys = [key for key, _ in sample_cases(quotes, locale)]
        assert sorted(set(keys)) == sorted(REQUIRED_STRINGS["inline"])
        assert len(keys) == len(REQUIRED_STRINGS["inline"])
    assert set(sample_rejections(defs.config)) <= set(REQUIRED_STRINGS["inline"])


def test_the_shipped_inline_texts_pass(project: Path) -> None:
    assert run_check("config.yaml").problems == []


def test_a_button_text_too_long_for_its_line(project: Path, edit, pos) -> None:
    edit(
        "templates/ru/strings.yaml",
        'hint: "Напишите расчёт, например: {{ example }}"',
        'hint: "Напишите расчёт в этом чате, как в личном, например: {{ example }}"',
    )
    [problem] = run_check("config.yaml").problems
    at = pos("templates/ru/strings.yaml", 'hint: "Напишите расчёт в', at='"')
    assert str(problem) == (
        f"templates/ru/strings.yaml:{at}: inline.hint: this button text is 68 characters; at "
        "most 64 fit on its one line (a longer one is cut with …): shorten it"
    )


def test_a_title_with_a_misspelt_variable(project: Path, edit, pos) -> None:
    edit("templates/en/strings.yaml", 'title: "{{ lang }} ·', 'title: "{{ language }} ·')
    [problem] = run_check("config.yaml").problems
    at = pos("templates/en/strings.yaml", 'title: "{{ language }}', at='"')
    assert str(problem) == (
        f"templates/en/strings.yaml:{at}: inline.title: cannot be shown: 'language' is undefined"
    )


def test_an_empty_stranger_button(project: Path, edit, pos) -> None:
    edit(
        "templates/en/strings.yaml",
        'stranger: "For the desk\'s staff only · open the bot"',
        'stranger: "  "',
    )
    [problem] = run_check("config.yaml").problems
    at = pos("templates/en/strings.yaml", 'stranger: "  "', at='"')
    assert str(problem) == (
        f"templates/en/strings.yaml:{at}: inline.stranger: this button text is empty; "
        "Telegram needs at least one character"
    )


def test_a_description_too_long_in_receive_mode_too(project: Path, edit, pos) -> None:
    edit(
        "templates/en/strings.yaml",
        'description: "Client rate:',
        "description: \"{{ 'x' * 150 }} Client rate:",
    )
    [problem] = run_check("config.yaml").problems
    assert "inline.description: this result description is " in str(problem)
    assert "at most 160 fit on its one line" in str(problem)
