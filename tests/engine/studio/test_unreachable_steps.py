"""``crypto-helper check`` warns, at the step's line, about steps no path from start reaches;
the check still passes (the bot never shows such a step, so nothing breaks)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine.cli import main

FLOW = "flows/exchange.yaml"
NEVER = "no path from start reaches this step, so it is never shown"

pytestmark = pytest.mark.slow  # each test runs crypto-helper check: every window, every locale


def check(capsys: pytest.CaptureFixture[str]) -> tuple[int, str, list[str]]:
    code = main(["check"])
    out, err = capsys.readouterr()
    return code, out, err.splitlines()


def add_steps(project: Path, text: str) -> None:
    path = project / FLOW
    path.write_text(path.read_text(encoding="utf-8").rstrip("\n") + "\n" + text, encoding="utf-8")


def test_steps_that_lead_only_to_each_other(
    project: Path, pos, capsys: pytest.CaptureFixture[str]
) -> None:
    add_steps(
        project,
        (
            "\n"
            "  draft:\n"
            "    kind: choice\n"
            "    template: cancelled\n"
            "    options: {from: currencies}\n"
            "    save_as: draft\n"
            "    next: draft_two\n"
            "  draft_two:\n"
            "    kind: card\n"
            "    template: cancelled\n"
            "    back: draft\n"
            "    buttons: [back]\n"
        ),
    )
    code, out, err = check(capsys)
    assert code == 0
    assert out.startswith("OK: ") and out.rstrip().endswith("; 2 warning(s) above")
    assert err == [
        f"{FLOW}:{pos(FLOW, 'draft:')}: steps.draft: warning: {NEVER}: only 'draft_two' leads "
        "here, and no path reaches that one either; lead here from a step that is shown, or remove it",
        f"{FLOW}:{pos(FLOW, 'draft_two:')}: steps.draft_two: warning: {NEVER}: only 'draft' leads "
        "here, and no path reaches that one either; lead here from a step that is shown, or remove it",
    ]


def test_a_back_without_a_back_button(
    project: Path, edit, pos, capsys: pytest.CaptureFixture[str]
) -> None:
    add_steps(project, "\n  spare:\n    kind: card\n    template: cancelled\n")
    edit(FLOW, "  cancelled:\n    kind: card\n", "  cancelled:\n    kind: card\n    back: spare\n")
    code, _, err = check(capsys)
    assert code == 0
    assert err == [
        f"{FLOW}:{pos(FLOW, 'spare:')}: steps.spare: warning: {NEVER}: step 'cancelled' names "
        "it as back, but has no back button; add back to its buttons, or remove this step",
    ]


def test_on_cancel_without_a_cancel_button(
    project: Path, pos, capsys: pytest.CaptureFixture[str]
) -> None:
    path = project / FLOW
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
        if not line.lstrip().startswith("#"):  # every step's cancel button goes
            line = re.sub(r"\[cancel\]", "[]", re.sub(r", cancel\b|\bcancel, ", "", line))
        lines.append(line)
    path.write_text("".join(lines), encoding="utf-8")
    assert not re.search(
        r"\bcancel\b", "".join(x for x in lines if not x.lstrip().startswith("#"))
    )
    code, _, err = check(capsys)
    assert code == 0
    assert err == [
        f"{FLOW}:{pos(FLOW, 'cancelled:')}: steps.cancelled: warning: {NEVER}: it is the flow's "
        "on_cancel, but no step that is shown has a cancel button; add cancel to a step's "
        "buttons, or remove this step and on_cancel",
    ]


def test_a_step_nothing_names_is_still_an_error(
    project: Path, pos, capsys: pytest.CaptureFixture[str]
) -> None:
    """The flow's own check (an error) comes first; the warning adds nothing to it."""
    add_steps(project, "\n  spare:\n    kind: card\n    template: cancelled\n")
    code, _, err = check(capsys)
    assert code == 2
    assert err == [
        f"{FLOW}:{pos(FLOW, 'spare:')}: steps.spare: no step leads here (not start, next, back, "
        "on_error or on_cancel of any step)",
        "1 problem(s) found.",
    ]
