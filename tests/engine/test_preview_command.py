"""``crypto-helper preview``: forgiving about how a case is written, plain about a filter that
matches nothing (issue 9 §6)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.cli import main
from engine.preview import PreviewSelectionError, Screen, case_key, select_screens

STEPS = (
    "amount, cancelled, client, failure, help, history, margin, rates, rates_unavailable, "
    "refused, result, source, target, today"
)


def run_preview(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["preview", *args])
    out, err = capsys.readouterr()
    return code, out, err


def headers(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("── ")]


@pytest.mark.slow  # the whole direction, every spelling
@pytest.mark.parametrize(
    "case",
    [
        "RUB→USDT",
        "RUB->USDT",
        "RUB-USDT",
        "rub→usdt",
        "RUB - USDT",
        " rub -> usdt ",
        "RUB => USDT",
        "RUB–USDT",
        "RUB USDT",
        "RUB/USDT",
    ],
)
def test_a_case_however_written(
    project: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    code, out, err = run_preview(capsys, "--case", case, "--locale", "en", "--step", "amount")
    assert (code, err) == (0, "")
    # the amount typed as what the client gives, and as what the client receives
    assert headers(out) == [
        "── exchange.amount [en] RUB→USDT",
        "── exchange.amount [en] RUB→USDT+fix_receive",
    ]


def test_the_whole_direction_in_every_locale(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_preview(capsys, "--case", "rub->usdt")
    assert code == 0
    assert headers(out) == [
        f"── exchange.{step} [{locale}] RUB→USDT"
        for step in ("margin", "amount", "result", "client")
        for locale in ("ru", "en")
    ] + [
        f"── exchange.{step} [{locale}] RUB→USDT+fix_receive"
        for step in ("amount", "result", "client")
        for locale in ("ru", "en")
    ]


def test_locale_and_step_forgive_case_and_spelling(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_preview(capsys, "--locale", "EN-gb", "--step", "exchange.rates-unavailable")
    assert code == 0
    assert headers(out) == ["── exchange.rates_unavailable [en] sample"]


def test_unknown_locale(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_preview(capsys, "--locale", "de") == (
        2,
        "",
        ("crypto-helper preview: --locale 'de' matches nothing\nvalid locales: en, ru\n"),
    )


def test_unknown_step_with_a_suggestion(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_preview(capsys, "--step", "amout") == (
        2,
        "",
        (
            "crypto-helper preview: --step 'amout' matches nothing; did you mean 'amount'?\n"
            f"valid steps: {STEPS}\n"
        ),
    )


def test_unknown_case(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_preview(capsys, "--case", "gold")
    assert (code, out) == (2, "")
    first, second = err.splitlines()
    assert first == "crypto-helper preview: --case 'gold' matches nothing"
    assert second.startswith("valid cases: RUB, RUB→AED, RUB→AED+fix_receive, RUB→EUR, ")
    assert second.endswith(", sample, warnings")
    assert "USDT→RUB" in second and "error:too_small" in second


def test_unknown_case_with_a_suggestion(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, _, err = run_preview(capsys, "--case", "usdt-rbu")
    assert err.splitlines()[0] == (
        "crypto-helper preview: --case 'usdt-rbu' matches nothing; did you mean 'USDT→RUB'?"
    )


def test_a_case_that_is_not_at_that_step(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_preview(capsys, "--step", "target", "--locale", "en", "--case", "RUB-USDT") == (
        2,
        "",
        (
            "crypto-helper preview: --case 'RUB-USDT' matches no window of --locale 'en' and "
            "--step 'target'\ncases there: RUB, USDT\n"
        ),
    )
    assert run_preview(capsys, "--step", "source", "--case", "RUB-USDT") == (
        2,
        "",
        (
            "crypto-helper preview: --case 'RUB-USDT' matches no window of --step 'source'\n"
            "no case there; leave out --case\n"
        ),
    )


def test_no_filter_shows_everything(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_preview(capsys)
    assert (code, err) == (0, "")
    assert len(headers(out)) > 100


# select_screens on its own, with made-up screens.
def screen(step: str, locale: str, case: str) -> Screen:
    return Screen("flow", step, locale, case, "text", ())


SCREENS = [screen("a", "en", "X→Y"), screen("a", "ru", "X→Y"), screen("b", "en", "")]


def test_case_key() -> None:
    assert {case_key(c) for c in ("X→Y", "x->y", " X - Y ", "x  y", "X=>Y")} == {"x→y"}
    assert case_key("error:too_small") == "error:too_small"


def test_select_filters_and_keeps_order() -> None:
    assert select_screens(SCREENS) == SCREENS
    assert select_screens(SCREENS, locale="EN") == [SCREENS[0], SCREENS[2]]
    assert select_screens(SCREENS, step="flow.a", case="x-y") == SCREENS[:2]


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"locale": "fr"}, "--locale 'fr' matches nothing\nvalid locales: en, ru"),
        ({"step": "c"}, "--step 'c' matches nothing\nvalid steps: a, b"),
        ({"case": "Z"}, "--case 'Z' matches nothing\nvalid cases: X→Y"),
        (
            {"step": "b", "case": "x->y"},
            "--case 'x->y' matches no window of --step 'b'\nno case there; leave out --case",
        ),
    ],
)
def test_select_refuses_what_matches_nothing(filters: dict[str, str], message: str) -> None:
    with pytest.raises(PreviewSelectionError) as info:
        select_screens(SCREENS, **filters)
    assert str(info.value) == message
