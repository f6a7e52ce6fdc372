"""``check`` reports Telegram's HTML refusals at the template line that writes the fault."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from engine.cli import main

Edit = Callable[[str, str, str], Path]  # the conftest fixtures
Pos = Callable[..., str]

pytestmark = pytest.mark.slow  # each test runs crypto-helper check: every window, every locale

TAGS = "<b>, <i>, <u>, <s>, <code>, <pre>, <a>, <blockquote> or <tg-spoiler>"


def check_errors(capsys: pytest.CaptureFixture[str]) -> list[str]:
    assert main(["check"]) == 2
    return capsys.readouterr().err.splitlines()


def test_fragment_found_in_the_template(
    project: Path, edit: Edit, pos: Pos, capsys: pytest.CaptureFixture[str]
) -> None:
    edit("templates/en/source.j2", "<b>New exchange quote</b>", "<b>New exchange quote & more")
    edit("templates/ru/cancelled.j2", "нажмите «Новый", "нажмите <div>«Новый")
    edit("templates/en/margin.j2", "Or pick one below.", "Or pick <a href=https://t.me/x>one</a>.")
    assert check_errors(capsys) == [
        f"templates/en/margin.j2:{pos('templates/en/margin.j2', '<a href')}: step 'margin' "
        "(RUB→USDT): in <a href=https://t.me/x> the value https://t.me/x must be in quotes: "
        'write href="https://t.me/x"',
        # a bare "&" is text for Telegram (decode_html_entity): only the unclosed <b> counts
        "templates/en/source.j2:1:1: step 'source' (): <b> is never closed; add </b> where it "
        "should end",
        f"templates/ru/cancelled.j2:{pos('templates/ru/cancelled.j2', '<div>')}: step "
        f"'cancelled' (sample): <div> is not a tag Telegram knows; use {TAGS}",
        "3 problem(s) found.",
    ]


def test_fragment_in_an_included_partial(
    project: Path, edit: Edit, pos: Pos, capsys: pytest.CaptureFixture[str]
) -> None:
    edit("templates/en/_header.j2", "<b>{{ get }}</b>", "<big>{{ get }}</big>")
    where = f"templates/en/_header.j2:{pos('templates/en/_header.j2', '<big>')}"
    errors = check_errors(capsys)
    assert errors[-1] == f"{len(errors) - 1} problem(s) found."
    assert {line.split(": step ")[0] for line in errors[:-1]} == {where}
    assert errors[0].endswith(f"<big> is not a tag Telegram knows; use {TAGS}")


def test_fragment_from_a_value(
    project: Path, edit: Edit, capsys: pytest.CaptureFixture[str]
) -> None:
    edit("templates/en/cancelled.j2", "Quote cancelled.", '{{ "%sv>"|format("<di")|safe }}')
    assert check_errors(capsys) == [
        "templates/en/cancelled.j2:1:1: step 'cancelled' (sample): <div> is not a tag Telegram "
        f"knows; use {TAGS} (from a value inserted into the template)",
        "1 problem(s) found.",
    ]


def test_whole_text_problems_at_the_start(
    project: Path, edit: Edit, capsys: pytest.CaptureFixture[str]
) -> None:
    edit("templates/en/cancelled.j2", "Quote cancelled.", "{{ 'x' * 4100 }}")
    assert check_errors(capsys) == [
        "templates/en/cancelled.j2:1:1: step 'cancelled' (sample): the message is 4152 "
        "characters after formatting; Telegram allows at most 4096: shorten it or split it "
        "into several messages",
        "1 problem(s) found.",
    ]
