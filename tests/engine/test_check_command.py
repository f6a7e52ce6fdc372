"""``crypto-helper check``: what a non-developer runs after editing YAML."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from engine.check import screen_problems
from engine.cli import main
from engine.definitions import load_definitions
from engine.preview import Screen
from engine.telegram import CALLBACK_PREFIX_BYTES, MAX_CALLBACK_DATA

FLOW = "flows/exchange.yaml"
STRINGS = "templates/en/strings.yaml"


def run_check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["check", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.slow  # checks every window of the shipped project
def test_shipped_project_passes(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_check(capsys)
    assert code == 0, err
    assert err == ""
    assert out.startswith("OK: 8 currencies, 14 directions, 1 flow(s) with 7 steps, 2 locales, ")
    assert out.count("\n") == 1


@pytest.mark.slow  # checks every window, twice
def test_config_option_and_env(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (project / "config.yaml").rename(project / "desk.yaml")
    assert run_check(capsys)[0] == 2
    assert run_check(capsys, "--config", "desk.yaml")[0] == 0
    monkeypatch.setenv("CONFIG_PATH", "desk.yaml")
    assert run_check(capsys)[0] == 0


def test_config_errors_exit_2_without_traceback(
    project: Path, edit, pos, capsys: pytest.CaptureFixture[str]
) -> None:
    edit("config.yaml", "  RUB: [USDT, USD,", "  RUB: [USDX, USD,")
    code, out, err = run_check(capsys)
    assert code == 2
    assert out == ""
    assert err == (
        f"config.yaml:{pos('config.yaml', 'USDX')}: directions.RUB[1]: 'USDX' is not a configured currency; "
        "did you mean 'USD'?\n1 problem(s) found.\n"
    )


def test_flow_structure_error(
    project: Path, edit, pos, capsys: pytest.CaptureFixture[str]
) -> None:
    edit("flows/exchange.yaml", "    keep_message: true ", "    keep_mesage: true ")
    code, _, err = run_check(capsys)
    assert code == 2
    assert err.splitlines() == [
        f"flows/exchange.yaml:{pos(FLOW, 'keep_mesage')}: steps.result.keep_mesage: unknown key; "
        "did you mean 'keep_message'?",
        "1 problem(s) found.",
    ]


def test_flow_reference_errors(
    project: Path, edit, pos, capsys: pytest.CaptureFixture[str]
) -> None:
    edit("flows/exchange.yaml", "    next: margin\n", "    next: margni\n")
    edit(
        "flows/exchange.yaml",
        "    actions: [compute_quote]\n    on_error: rates_unavailable\n"
        "    next: result\n    buttons: [[",
        "    actions: [compute_qoute]\n"
        "    on_error: rates_unavailable\n    next: result\n    buttons: [[",
    )
    edit("flows/exchange.yaml", "    presets: [0.5, 1,", "    presets: [0.555, 1,")
    code, _, err = run_check(capsys)
    assert code == 2
    assert err.splitlines() == [
        f"flows/exchange.yaml:{pos(FLOW, 'margni')}: steps.target.next: 'margni' is not a step of this flow; "
        "did you mean 'margin'?",
        f"flows/exchange.yaml:{pos(FLOW, '0.555')}: steps.margin.presets[1]: 0.555 has more than 2 decimals",
        f"flows/exchange.yaml:{pos(FLOW, 'compute_qoute')}: steps.amount.actions[1]: 'compute_qoute' is not a known "
        "action; did you mean 'compute_quote'?",
        "3 problem(s) found.",
    ]


def test_typed_input_on_a_card_needs_keep_message_save_as_and_next(
    project: Path, edit, pos, capsys: pytest.CaptureFixture[str]
) -> None:
    edit(
        "flows/exchange.yaml",
        "    keep_message: true                      # the quote",
        "    keep_message: false                     # the quote",
    )
    edit(
        "flows/exchange.yaml",
        "    save_as: amount\n    actions: [compute_quote]\n"
        "    on_error: rates_unavailable\n    next: result\n    back: amount\n",
        "    actions: [compute_quote]\n    on_error: rates_unavailable\n    back: amount\n",
    )
    code, _, err = run_check(capsys)
    assert code == 2
    line = pos(FLOW, "  result:\n    kind", at="kind")
    assert err.splitlines() == [
        f"flows/exchange.yaml:{line}: steps.result: a card step needs 'next'",
        f"flows/exchange.yaml:{line}: steps.result: a card step needs 'save_as'",
        f"flows/exchange.yaml:{pos(FLOW, 'input:                                  # typing')}: "
        "steps.result.input: a card takes typed input only with 'keep_message: true'",
        "3 problem(s) found.",
    ]


def test_save_as_on_a_card_without_input(
    project: Path, edit, pos, capsys: pytest.CaptureFixture[str]
) -> None:
    edit(
        "flows/exchange.yaml",
        "  cancelled:\n    kind: card\n",
        "  cancelled:\n    kind: card\n    save_as: amount\n",
    )
    _, _, err = run_check(capsys)
    at_save_as = pos(FLOW, "cancelled:\n    kind: card\n    save_as", at="save_as")
    assert err.splitlines() == [
        f"flows/exchange.yaml:{at_save_as}: steps.cancelled.save_as: a card step has no 'save_as'",
        "1 problem(s) found.",
    ]


def test_missing_template_suggests(
    project: Path, edit, pos, capsys: pytest.CaptureFixture[str]
) -> None:
    edit(
        "flows/exchange.yaml",
        "  result:\n    kind: card\n",
        "  result:\n    kind: card\n    template: resutl\n",
    )
    _, _, err = run_check(capsys)
    assert err.splitlines() == [
        f"flows/exchange.yaml:{pos(FLOW, 'resutl')}: steps.result.template: template en/resutl.j2 not found; "
        "did you mean 'result'?",
        f"flows/exchange.yaml:{pos(FLOW, 'resutl')}: steps.result.template: template ru/resutl.j2 not found; "
        "did you mean 'result'?",
        "2 problem(s) found.",
    ]


def test_template_syntax_error(
    project: Path, edit, pos, capsys: pytest.CaptureFixture[str]
) -> None:
    edit("templates/en/result.j2", "{% if quote.held %}", "{% if quote.held %")
    code, _, err = run_check(capsys)
    assert code == 2
    assert err.splitlines() == [
        f"templates/en/result.j2:{pos('templates/en/result.j2', '⚠️ The source').split(':')[0]}:1: "
        "template syntax error: a {{ … }} or {% … %} here is not closed, or holds a character that cannot be inside it (⚠)",
        "1 problem(s) found.",
    ]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "{{ quote.result|",
            "{{ quot.result|",
            "quot is not a variable here; did you mean 'quote'?",
        ),
        ("{{ quote.amount|", "{{ quote.amout|", "quote has no amout here; did you mean 'amount'?"),
    ],
)
def test_misspelt_variable_names_the_right_one(
    project: Path, edit, pos, old: str, new: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    edit("templates/en/result.j2", old, new)
    code, _, err = run_check(capsys)
    assert code == 2
    line = pos("templates/en/result.j2", new).split(":")[0]
    assert err.splitlines() == [
        f"templates/en/result.j2:{line}:1: step 'result' (RUB→USDT): {message}",
        "1 problem(s) found.",
    ]


def test_undefined_variable_in_template(
    project: Path, edit, pos, capsys: pytest.CaptureFixture[str]
) -> None:
    edit(
        "templates/ru/result.j2",
        "Наценка: {{ quote.margin|percent }}",
        "Наценка: {{ quote.markup|percent }}",
    )  # not a key of quote: no "did you mean"
    code, _, err = run_check(capsys)
    assert code == 2
    assert err.splitlines() == [
        f"templates/ru/result.j2:{pos('templates/ru/result.j2', 'Наценка').split(':')[0]}:1: "
        "step 'result' (RUB→USDT): quote has no markup here",
        "1 problem(s) found.",
    ]


def test_telegram_html_rules(project: Path, edit, capsys: pytest.CaptureFixture[str]) -> None:
    edit("templates/en/source.j2", "<b>New exchange quote</b>", "<b>New exchange quote & more")
    edit("templates/ru/cancelled.j2", "Расчёт отменён.", "<div>Расчёт отменён.</div>")
    code, _, err = run_check(capsys)
    assert code == 2
    assert err.splitlines() == [  # a bare & is text to Telegram: not a problem
        "templates/en/source.j2:1:1: step 'source' (): <b> is never closed; add </b> where it "
        "should end",
        "templates/ru/cancelled.j2:1:1: step 'cancelled' (sample): <div> is not a tag Telegram "
        "knows; use <b>, <i>, <u>, <s>, <code>, <pre>, <a>, <blockquote> or <tg-spoiler>",
        "2 problem(s) found.",
    ]


def test_text_longer_than_telegram_allows(
    project: Path, edit, capsys: pytest.CaptureFixture[str]
) -> None:
    edit("templates/en/cancelled.j2", "Quote cancelled.", "{{ 'x' * 4100 }}")
    _, _, err = run_check(capsys)
    assert (
        "templates/en/cancelled.j2:1:1: step 'cancelled' (sample): the message is 4152 "
        "characters after formatting; Telegram allows at most 4096: shorten it or split it "
        "into several messages"
    ) in err


def test_callback_data_too_long(project: Path) -> None:
    defs = load_definitions()
    ok = "b" * (MAX_CALLBACK_DATA - CALLBACK_PREFIX_BYTES)
    screens = [
        Screen("exchange", "margin", "ru", "x", "text", ((("fine", ok),),), "margin"),
        Screen("exchange", "margin", "en", "x", "text", ((("long", ok + "b"),),), "margin"),
    ]
    assert [str(p) for p in screen_problems(defs, screens)] == [
        "templates/en/margin.j2:1:1: steps.margin: button 'long': callback_data is 65 bytes "
        "with aiogram-dialog's prefix; Telegram allows 64 (shorten the step id)"
    ]


def test_strings_problems(project: Path, edit, pos, capsys: pytest.CaptureFixture[str]) -> None:
    edit("templates/en/strings.yaml", '  retry: "🔁 Retry"\n', '  retyr: "🔁 Retry"\n')
    _, _, err = run_check(capsys)
    section = pos(STRINGS, "\nbuttons:", "buttons")
    assert err.splitlines() == [
        f"templates/en/strings.yaml:{section}: buttons: missing buttons.retry",
        f"templates/en/strings.yaml:{pos(STRINGS, 'retyr')}: buttons.retyr: unknown key; did you mean 'retry'?",
        "2 problem(s) found.",
    ]


@pytest.mark.slow  # a Python subprocess
def test_check_does_not_import_aiogram(project: Path) -> None:
    code = (
        "import sys\nfrom engine.cli import main\nrc = main(['check'])\n"
        "assert rc == 0, rc\nassert 'aiogram' not in sys.modules, 'aiogram imported'\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
