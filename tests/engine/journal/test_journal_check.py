"""crypto-helper check holds the journal's texts to Telegram's rules, at their line."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.check import run_check


@pytest.mark.slow  # checks every window of the shipped project
def test_the_shipped_journal_texts_pass(project: Path) -> None:
    assert run_check("config.yaml").problems == []


def test_an_unclosed_tag_in_a_journal_message(project: Path, edit, pos) -> None:
    edit(
        "templates/en/strings.yaml",
        'export_empty: "No quotes for',
        'export_empty: "<b>No quotes for',
    )
    [problem] = run_check("config.yaml").problems
    at = pos("templates/en/strings.yaml", 'export_empty: "<b>', at='"')
    assert str(problem) == (
        f"templates/en/strings.yaml:{at}: "
        "journal.export_empty: <b> is never closed; add </b> where it should end"
    )


def test_a_pop_up_too_long(project: Path, edit, pos) -> None:
    edit(
        "templates/ru/strings.yaml",
        'not_found: "Этого расчёта больше нет в журнале."',
        f'not_found: "{"Очень длинно. " * 20}"',
    )
    [problem] = run_check("config.yaml").problems
    at = pos("templates/ru/strings.yaml", 'not_found: "Очень', at='"')
    assert str(problem) == (
        f"templates/ru/strings.yaml:{at}: "
        "journal.not_found: this text is 279 characters; Telegram allows at most 200"
    )


def test_a_journal_template_with_a_misspelt_variable(project: Path, edit) -> None:
    edit("templates/en/today.j2", "{{ d.count }}", "{{ d.cont }}")
    problems = [str(p) for p in run_check("config.yaml").problems]
    assert problems == [
        "templates/en/today.j2:9:1: message 'today' (quotes): d has no value here, so d.cont "
        "cannot be shown"
    ]
