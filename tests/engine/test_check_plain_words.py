"""``check`` says what is wrong the way a person who does not code can act on it.

Each test makes one mistake a desk's editor makes and asserts the whole output.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_check_command import run_check

FLOW = "flows/exchange.yaml"


def errors(capsys: pytest.CaptureFixture[str]) -> list[str]:
    code, out, err = run_check(capsys)
    assert code == 2, out
    return err.splitlines()


def test_a_lower_case_code_is_explained_not_a_pattern(edit, pos, capsys) -> None:
    edit("config.yaml", "  - code: USD\n", "  - code: usd\n")
    assert errors(capsys) == [
        f"config.yaml:{pos('config.yaml', 'code: usd', 'usd')}: currencies[usd].code: a currency "
        "code is 2–10 capital letters or digits, starting with a letter, like USDT",
        "1 problem(s) found.",
    ]


def test_a_number_out_of_range_says_the_limit_and_the_value(edit, pos, capsys) -> None:
    edit("config.yaml", "    decimals: 0\n", "    decimals: 20\n")
    assert errors(capsys) == [
        f"config.yaml:{pos('config.yaml', 'decimals: 20', '20')}: currencies[IDR].decimals: "
        "must be at most 8 (it is 20)",
        "1 problem(s) found.",
    ]


def test_a_number_where_text_belongs(edit, pos, capsys) -> None:
    edit("config.yaml", "name: {ru: Евро, en: Euro}", "name: {ru: Евро, en: 5}")
    assert errors(capsys) == [
        f"config.yaml:{pos('config.yaml', 'en: 5}', '5')}: currencies[EUR].name.en: must be text "
        "(put it in quotes if it looks like a number)",
        "1 problem(s) found.",
    ]


def test_a_tab_is_named(project: Path, pos, capsys) -> None:
    path = project / "config.yaml"
    path.write_text(path.read_text().replace("    kind: crypto\n", "\tkind: crypto\n"))
    assert errors(capsys) == [
        f"config.yaml:{pos('config.yaml', chr(9) + 'kind: crypto')}: YAML syntax error: tabs "
        "cannot indent YAML; use spaces",
        "1 problem(s) found.",
    ]


def test_a_quote_never_closed_is_shown_where_it_opens(edit, pos, capsys) -> None:
    edit("config.yaml", 'emoji: "🇪🇺"', 'emoji: "🇪🇺')
    at = pos("config.yaml", '"🇪🇺', '"')
    assert errors(capsys) == [
        f"config.yaml:{at}: YAML syntax error: a quote opened here is never closed",
        "1 problem(s) found.",
    ]


def test_a_missing_colon(edit, pos, capsys) -> None:
    edit("config.yaml", "    decimals: 0\n", "    decimals 0\n")
    line = pos("config.yaml", "    decimals 0").split(":")[0]
    assert errors(capsys) == [
        f"config.yaml:{int(line) + 1}:5: YAML syntax error: expected 'key: value' here: is the "
        "':' missing?",
        "1 problem(s) found.",
    ]


@pytest.mark.parametrize(
    "name",
    [
        "config.yaml",
        FLOW,
        "templates/ru/strings.yaml",
        "templates/ru/result.j2",
        "templates/en/help.j2",
        "templates/ru/_header.j2",
    ],
)
def test_a_file_saved_as_windows_1251_is_said_so(project: Path, capsys, name: str) -> None:
    path = project / name
    text = (
        path.read_text(encoding="utf-8") + "\n# Курс\n"
        if name.endswith(".yaml")
        else (path.read_text(encoding="utf-8") + "Курс")
    )
    path.write_bytes(text.encode("cp1251", errors="replace"))
    lines = errors(capsys)
    assert lines[-1] == "1 problem(s) found.", lines
    assert lines[0].startswith(f"{name}:")
    assert lines[0].endswith(
        "this file is not UTF-8 (it looks like Windows-1251, as Russian "
        "Windows editors save): save it as UTF-8 and check again"
    )
    assert "Traceback" not in "\n".join(lines)


def test_an_if_never_closed_points_at_the_if(edit, pos, capsys) -> None:
    edit("templates/en/result.j2", "right now.\n{% endif %}", "right now.\n")
    assert errors(capsys) == [
        f"templates/en/result.j2:{pos('templates/en/result.j2', '{% if quote.held %}').split(':')[0]}:1: "
        "template syntax error: {% if %} opened here is never closed: add {% endif %}",
        "1 problem(s) found.",
    ]


def test_an_unknown_tag_suggests_the_right_one(edit, pos, capsys) -> None:
    edit("templates/en/result.j2", "right now.\n{% endif %}", "right now.\n{% endfi %}")
    line = pos("templates/en/result.j2", "{% endfi %}").split(":")[0]
    assert errors(capsys) == [
        f"templates/en/result.j2:{line}:1: template syntax error: {{% endfi %}} is not a template "
        "tag; did you mean 'endif'?",
        "1 problem(s) found.",
    ]


def test_a_margin_of_100_percent_or_more_is_refused_where_written(edit, pos, capsys) -> None:
    edit(FLOW, "min: 0, max: 10,", "min: 0, max: 150,")
    assert errors(capsys) == [
        f"{FLOW}:{pos(FLOW, 'max: 150', '150')}: steps.margin.input.max: a percentage below 100 is "
        "needed here (it is 150): at 100 % or more the client would get nothing",
        "1 problem(s) found.",
    ]


def test_a_negative_margin_is_refused(edit, pos, capsys) -> None:
    edit(FLOW, "min: 0, max: 10,", "min: -1, max: 10,")
    assert errors(capsys) == [
        f"{FLOW}:{pos(FLOW, 'min: -1', '-1')}: steps.margin.input.min: a margin cannot be "
        "negative (it is -1): the desk would pay",
        "1 problem(s) found.",
    ]


def test_a_preset_outside_the_limits(edit, pos, capsys) -> None:
    edit(FLOW, "presets: [0.5, 1, 1.5, 2, 2.5, 3]", "presets: [0.5, 1, 1.5, 2, 2.5, 30]")
    assert errors(capsys) == [
        f"{FLOW}:{pos(FLOW, '2.5, 30]', '30')}: steps.margin.presets[6]: the preset 30 is "
        "outside the allowed 0..10",
        "1 problem(s) found.",
    ]


def test_a_routed_pair_without_a_demo_rate_is_exactly_that(edit, pos, capsys) -> None:
    edit("config.yaml", '      ZAR/RUB: "4.5120"\n', "")
    code, _, err = run_check(capsys)
    assert code == 2
    assert err.splitlines() == [  # and no log lines of the preview's failing rates
        f"config.yaml:{pos('config.yaml', 'USDT/RUB: {close')}: providers.static.rates: no demo "
        "rate for ZAR/RUB: add a line 'ZAR/RUB: \"…\"' here (--offline, check and preview quote "
        "from these rates)",
        "1 problem(s) found.",
    ]


def test_a_code_that_is_no_iso_currency_is_a_warning(project: Path, pos, capsys) -> None:
    path = project / "config.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("ZAR", "ZRA"), encoding="utf-8")
    code, out, err = run_check(capsys)
    assert code == 0
    assert out.startswith("OK: ") and out.rstrip().endswith("; 1 warning(s) above")
    assert err.splitlines() == [
        f"config.yaml:{pos('config.yaml', 'code: ZRA', 'ZRA')}: currencies[ZRA].code: warning: "
        "ZRA is not an ISO 4217 currency code (USD, EUR, THB…); if it is a crypto currency, "
        "set kind: crypto"
    ]


def test_check_prints_no_log_lines(edit, capsys, caplog) -> None:
    edit("config.yaml", '      ZAR/RUB: "4.5120"\n', "")
    code, _, err = run_check(capsys)
    assert code == 2
    assert all(line.startswith(("config.yaml:", "1 problem")) for line in err.splitlines()), err


def test_a_pop_up_over_200_characters(edit, pos, capsys) -> None:
    long = "The bot was restarted. " * 10
    edit(
        "templates/en/strings.yaml",
        '  restarted: "The bot was restarted — starting the quote over."',
        f'  restarted: "{long}"',
    )
    at = pos("templates/en/strings.yaml", 'restarted: "', '"')
    assert errors(capsys) == [
        f"templates/en/strings.yaml:{at}: "
        "notices.restarted: this pop-up text is 229 characters; Telegram allows at most 200",
        "1 problem(s) found.",
    ]


def test_a_notice_sent_as_a_message_is_held_to_telegram_html(edit, pos, capsys) -> None:
    edit("templates/ru/strings.yaml", 'nothing_to_cancel: "', 'nothing_to_cancel: "<div>')
    [line, summary] = errors(capsys)
    assert line.startswith(
        f"templates/ru/strings.yaml:{pos('templates/ru/strings.yaml', '<div>').split(':')[0]}:"
    )
    assert "notices.nothing_to_cancel: " in line and "<div>" in line
    assert summary == "1 problem(s) found."


def test_a_command_description_left_empty(edit, pos, capsys) -> None:
    edit(
        "config.yaml",
        "description: {ru: Текущие курсы, en: Current rates}",
        "description: {ru: Текущие курсы, en: ''}",
    )
    assert errors(capsys) == [
        f"config.yaml:{pos('config.yaml', chr(39) * 2)}: bot.commands[rates].description.en: a "
        "command description is empty; Telegram needs at least one character",
        "1 problem(s) found.",
    ]


def test_a_command_description_over_256_characters(edit, pos, capsys) -> None:
    edit("config.yaml", "en: Current rates}", f"en: {'x' * 300}}}")
    assert errors(capsys) == [
        f"config.yaml:{pos('config.yaml', 'x' * 300)}: bot.commands[rates].description.en: a "
        "command description is 300 characters; Telegram allows at most 256",
        "1 problem(s) found.",
    ]


def test_every_problem_at_once_even_with_a_broken_config(edit, pos, capsys) -> None:
    edit("config.yaml", "  - code: USD\n", "  - code: usd\n")
    edit(FLOW, "  margin:\n    kind: input", "  margin:\n    kind: inptu")
    edit("templates/en/result.j2", "right now.\n{% endif %}", "right now.\n{% endfi %}")
    edit("templates/ru/strings.yaml", "  retry: ", "  retyr: ")
    lines = errors(capsys)
    assert lines[-1] == "5 problem(s) found."
    assert [line.split(":")[0] for line in lines[:-1]] == [
        "config.yaml",
        FLOW,
        "templates/en/result.j2",
        "templates/ru/strings.yaml",
        "templates/ru/strings.yaml",
    ]
    assert "'inptu' is not one of 'choice', 'input', 'card'; did you mean 'input'?" in lines[1]
    assert "{% endfi %} is not a template tag; did you mean 'endif'?" in lines[2]
