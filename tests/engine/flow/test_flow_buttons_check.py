"""``crypto-helper check`` on the flow's own buttons (goto / swap / set / send) and on an
amount whose currency another answer chooses: each mistake at its line, in plain words."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.cli import main

FLOW = "flows/exchange.yaml"
pytestmark = pytest.mark.slow  # each test runs crypto-helper check: every window, every locale


def check_errors(capsys: pytest.CaptureFixture[str]) -> list[str]:
    code = main(["check"])
    _, err = capsys.readouterr()
    assert code == 2, err
    return err.splitlines()


def test_a_step_listing_a_button_nobody_declared(project: Path, edit, pos, capsys) -> None:
    edit(FLOW, "      - [swap]\n", "      - [swop]\n")
    assert check_errors(capsys) == [
        f"{FLOW}:{pos(FLOW, 'swop')}: steps.result.buttons[2][1]: 'swop' is not a button: use "
        "back, cancel, new_deal, retry or one declared under 'buttons:'; did you mean 'swap'?",
        "1 problem(s) found.",
    ]


def test_goto_an_unknown_step_and_a_button_doing_two_things(project: Path, edit, capsys) -> None:
    edit(FLOW, "change_margin: {goto: margin}", "change_margin: {goto: margni}")
    edit(FLOW, "  change_amount: {goto: amount}", "  change_amount: {goto: amount, send: client}")
    errors = check_errors(capsys)
    assert any(
        "buttons.change_margin.goto: 'margni' is not a step of this flow; did you mean "
        "'margin'?" in line
        for line in errors
    ), errors
    assert any(
        "buttons.change_amount: a button does one thing: goto, swap, set or send" in line
        for line in errors
    ), errors


def test_swap_of_an_answer_no_choice_step_saves(project: Path, edit, capsys) -> None:
    edit(FLOW, "    swap: [give, get]", "    swap: [give, amount]")
    errors = check_errors(capsys)
    assert any(
        "buttons.swap.swap[2]: 'amount' is not saved by a choice step; swap exchanges two choices"
        in line
        for line in errors
    ), errors


def test_send_of_a_missing_template(project: Path, edit, capsys) -> None:
    edit(FLOW, "{send: client, locales: each}", "{send: cliente, locales: each}")
    errors = check_errors(capsys)
    assert any(
        "buttons.for_client.send: template ru/cliente.j2 not found; did you mean 'client'?" in line
        for line in errors
    ), errors


def test_a_label_missing_for_a_declared_button(project: Path, edit, capsys) -> None:
    edit("templates/en/strings.yaml", '  swap: "⇄ Reverse"\n', "")
    errors = check_errors(capsys)
    assert any(
        "templates/en/strings.yaml" in line and "missing buttons.swap" in line for line in errors
    ), errors


def test_currency_chosen_by_an_unknown_answer(project: Path, edit, capsys) -> None:
    edit(
        FLOW,
        "      currency: {by: fixed, give: give, receive: get}   # taps",
        "      currency: {by: fixd, give: give, receive: got}   # taps",
    )
    errors = check_errors(capsys)
    assert any(
        "steps.amount.input.currency.by: 'fixd' is not an answer of this flow (saved "
        "by a step or in 'defaults'); did you mean 'fixed'?" in line
        for line in errors
    )
    assert any(
        "steps.amount.input.currency.receive: 'got' is not saved by any step; did you "
        "mean 'get'?" in line
        for line in errors
    ), errors


def test_set_and_when_name_known_answers(project: Path, edit, capsys) -> None:
    edit(
        FLOW,
        "fix_receive: {set: {fixed: receive}, when: {fixed: give}}",
        "fix_receive: {set: {fixd: receive}, when: {fixed: give}}",
    )
    errors = check_errors(capsys)
    assert any(
        "buttons.fix_receive: 'fixd' is not an answer of this flow" in line for line in errors
    ), errors
