"""Every kind of config.yaml mistake is reported exactly, at its line, all at once."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from engine.config import load_config
from engine.errors import ConfigError


def problems(path: str | Path = "config.yaml") -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return [str(p) for p in info.value.problems]


def test_shipped_config_is_valid(project: Path) -> None:
    config = load_config()
    assert [c.code for c in config.currencies] == [
        "RUB",
        "USDT",
        "USD",
        "EUR",
        "THB",
        "AED",
        "ZAR",
        "IDR",
    ]
    assert sum(len(v) for v in config.directions.values()) == 14
    assert config.flows == [project / "flows" / "exchange.yaml"]
    assert config.templates_dir == project / "templates"


def test_generous_default_limits(project: Path) -> None:
    config = load_config()
    assert config.currency("RUB").max_amount >= 100_000_000
    assert config.currency("USDT").max_amount >= 1_000_000


def test_yaml_syntax_error_has_position(project: Path, edit, pos) -> None:
    edit("config.yaml", "  - code: USDT\n", "  - code: USDT\n   kind: oops\n")
    assert problems() == [
        f"config.yaml:{pos('config.yaml', 'kind: oops')}: YAML syntax error: this line's indentation does not match the lines above"
    ]


def test_duplicate_key(project: Path, edit, pos) -> None:
    edit("config.yaml", "  ttl_seconds: 60 ", "  ttl_seconds: 60\n  ttl_seconds: 30 ")
    first = pos("config.yaml", "ttl_seconds: 60").split(":")[0]
    assert problems() == [
        f"config.yaml:{pos('config.yaml', 'ttl_seconds: 30')}: cache.ttl_seconds: "
        f"duplicate key (first defined on line {first})"
    ]


def test_unknown_key_suggests_the_known_one(project: Path, edit, pos) -> None:
    edit("config.yaml", "  ttl_seconds: 60 ", "  ttl_second: 60 ")
    assert problems() == [
        f"config.yaml:{pos('config.yaml', 'ttl_second:')}: cache.ttl_second: unknown key; did you mean 'ttl_seconds'?"
    ]


def test_wrong_literal_suggests(project: Path, edit, pos) -> None:
    edit("config.yaml", "    kind: crypto\n", "    kind: cryptos\n")
    assert problems() == [
        f"config.yaml:{pos('config.yaml', 'cryptos')}: currencies[USDT].kind: 'cryptos' is not one of 'fiat', 'crypto'; "
        "did you mean 'crypto'?"
    ]


def test_out_of_range_number(project: Path, edit, pos) -> None:
    edit("config.yaml", "  ttl_seconds: 60 ", "  ttl_seconds: -5 ")
    assert problems() == [
        f"config.yaml:{pos('config.yaml', '-5')}: cache.ttl_seconds: must be more than 0 (it is -5)"
    ]


def test_missing_required_key(project: Path, edit, pos) -> None:
    edit("config.yaml", "    kind: crypto\n", "")
    assert problems() == [
        f"config.yaml:{pos('config.yaml', 'code: USDT')}: currencies[USDT].kind: required key 'kind' is missing"
    ]


def test_min_amount_above_max(project: Path, edit, pos) -> None:
    edit("config.yaml", '    min_amount: "1000"\n', '    min_amount: "30000000000"\n')
    assert problems() == [
        f"config.yaml:{pos('config.yaml', 'code: IDR')}: currencies[IDR]: min_amount (30000000000) must be less than "
        "max_amount (20000000000)"
    ]


def test_unknown_currency_in_directions(project: Path, edit, pos) -> None:
    edit("config.yaml", "  RUB: [USDT, USD,", "  RUB: [USDX, USD,")
    assert problems() == [
        f"config.yaml:{pos('config.yaml', 'USDX')}: directions.RUB[1]: 'USDX' is not a configured currency; "
        "did you mean 'USD'?"
    ]


def test_direction_to_itself_and_twice(project: Path, edit, pos) -> None:
    edit("config.yaml", "  USDT: [RUB, USD,", "  USDT: [USDT, RUB, RUB, USD,")
    line = pos("config.yaml", "USDT: [USDT").split(":")[0]
    assert problems() == [
        f"config.yaml:{line}:10: directions.USDT[1]: a currency cannot be exchanged for itself "
        "(USDT)",
        f"config.yaml:{line}:21: directions.USDT[3]: 'RUB' is listed twice for USDT",
    ]


def test_duplicate_currency_code(project: Path, edit, pos) -> None:
    edit(
        "config.yaml",
        "\n# Which currency the client gives",
        "  - {code: USD, kind: fiat, name: {ru: Доллар, en: Dollar}}\n"
        "\n# Which currency the client gives",
    )
    first = pos("config.yaml", "- code: USD\n").split(":")[0]
    assert problems() == [
        f"config.yaml:{pos('config.yaml', 'USD, kind: fiat')}: currencies[USD].code: 'USD' is already defined on line {first}; each code once"
    ]


def test_missing_locale_name(project: Path, edit, pos) -> None:
    edit("config.yaml", "name: {ru: Евро, en: Euro}", "name: {ru: Евро}")
    assert problems() == [
        f"config.yaml:{pos('config.yaml', '{ru: Евро}')}: currencies[EUR].name: missing the 'en' text"
    ]


def test_unknown_provider_in_rule(project: Path, edit, pos) -> None:
    edit("config.yaml", "      provider: [apilayer, cbr]\n", "      provider: [apilayr, cbr]\n")
    assert problems() == [
        f"config.yaml:{pos('config.yaml', 'apilayr')}: routing.rules[2].provider[1]: 'apilayr' is not a configured "
        "provider; did you mean 'apilayer'?"
    ]


def test_unknown_single_provider_in_rule(project: Path, edit, pos) -> None:
    edit("config.yaml", "      provider: [apilayer, cbr]\n", "      provider: cbrr\n")
    assert problems() == [
        f"config.yaml:{pos('config.yaml', 'cbrr')}: routing.rules[2].provider: 'cbrr' is not a configured "
        "provider; did you mean 'cbr'?"
    ]


def test_a_provider_listed_twice_in_a_rule(project: Path, edit, pos) -> None:
    edit("config.yaml", "      provider: [apilayer, cbr]\n", "      provider: [cbr, cbr]\n")
    assert problems() == [
        f"config.yaml:{pos('config.yaml', '[cbr, cbr]')}: routing.rules[2].provider: each provider may be listed once"
    ]


def test_unknown_provider_plugin(project: Path, edit, pos) -> None:
    edit("config.yaml", "    kind: static\n", "    kind: statik\n")
    assert problems() == [
        f"config.yaml:{pos('config.yaml', 'statik')}: providers.static.kind: 'statik' is not an installed provider "
        "plugin; did you mean 'static'?"
    ]


def test_provider_plugin_fields_are_validated(project: Path, edit, pos) -> None:
    edit(
        "config.yaml",
        "    timeout_seconds: 5\n    retries: 2\n    api_key_env: RAPIRA",
        "    timeout_seconds: 5\n    retries: 2\n    api_key: RAPIRA",
    )
    assert problems() == [
        f"config.yaml:{pos('config.yaml', 'api_key: RAPIRA')}: providers.rapira.api_key: unknown key; did you mean 'api_key_env'?"
    ]


def test_price_field_the_provider_lacks(project: Path, edit, pos) -> None:
    edit(
        "config.yaml",
        "      provider: [apilayer, cbr]\n      price: close\n",
        "      provider: [apilayer, cbr]\n      price: ask\n",
    )
    at = pos("config.yaml", "price: ask", "ask")
    assert problems() == [  # each provider of the rule, fallbacks too
        f"config.yaml:{at}: routing.rules[2].price: provider 'apilayer' (apilayer) has no 'ask' price; it offers ['close']",
        f"config.yaml:{at}: routing.rules[2].price: provider 'cbr' (cbr) has no 'ask' price; it offers ['close']",
    ]


def test_direction_without_route(project: Path, edit, pos) -> None:
    edit(
        "config.yaml",
        "- pairs: [USD/RUB, EUR/RUB, THB/RUB, AED/RUB, ZAR/RUB, IDR/RUB]",
        "- pairs: [USD/RUB, EUR/RUB, THB/RUB, AED/RUB, ZAR/RUB]",
    )
    edit(
        "config.yaml",
        "  pairs: [USDT/RUB, USD/RUB, EUR/RUB, THB/RUB, AED/RUB, ZAR/RUB, IDR/RUB]",
        "  pairs: [USDT/RUB]",
    )
    rub = pos("config.yaml", "ZAR, IDR]\n  USDT").split(":")[0]
    usdt = pos("config.yaml", "USDT: [RUB").split(":")[0]
    assert problems() == [
        f"config.yaml:{rub}:40: directions.RUB[7]: RUB → IDR: no routing rule serves IDR/RUB "
        "directly or through RUB",
        f"config.yaml:{usdt}:40: directions.USDT[7]: USDT → IDR: no routing rule serves USDT/IDR "
        "directly or through RUB",
    ]


def test_preload_pair_not_routed(project: Path, edit, pos) -> None:
    edit("config.yaml", "  pairs: [USDT/RUB, USD/RUB,", "  pairs: [USDT/RUR, USD/RUB,")
    assert problems() == [
        f"config.yaml:{pos('config.yaml', 'USDT/RUR')}: preload.pairs[1]: USDT/RUR is not served by any routing rule; "
        "did you mean 'USDT/RUB'?"
    ]


def test_default_locale_not_listed(project: Path, edit, pos) -> None:
    edit("config.yaml", "  default_locale: ru\n", "  default_locale: de\n")
    assert problems() == [
        f"config.yaml:{pos('config.yaml', 'locale: de', 'de')}: bot.default_locale: 'de' is not in locales ['ru', 'en']"
    ]


def test_missing_flow_file(project: Path, edit, pos) -> None:
    edit("config.yaml", "  - flows/exchange.yaml\n", "  - flows/exchnage.yaml\n")
    assert problems() == [
        f"config.yaml:{pos('config.yaml', 'flows/exchnage')}: flows[1]: flow file not found: {project}/flows/exchnage.yaml"
    ]


def test_all_problems_reported_at_once(project: Path, edit) -> None:
    edit("config.yaml", "  RUB: [USDT, USD,", "  RUB: [USDX, USD,")
    edit("config.yaml", "      provider: [apilayer, cbr]\n", "      provider: [apilayr, cbr]\n")
    edit("config.yaml", "  default_locale: ru\n", "  default_locale: de\n")
    assert len(problems()) == 3


def test_config_path_from_environment(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (project / "config.yaml").rename(project / "desk.yaml")
    monkeypatch.setenv("CONFIG_PATH", "desk.yaml")
    assert load_config().routing.pivot == "RUB"


def test_missing_config_file(project: Path) -> None:
    assert problems("nope.yaml") == ["nope.yaml:1:1: file not found"]


def test_fractions_load_as_exact_decimals(project: Path) -> None:
    from decimal import Decimal

    static = load_config().providers["static"]
    assert static.rates["IDR/RUB"].close == Decimal("0.005654")  # type: ignore[attr-defined]


def test_display_minimums_alone_pass_check(project: Path, edit) -> None:
    # they used to turn "Margin: 2 %" into 4.79 %; now max_rounding_percent adds decimals
    edit(
        "config.yaml",
        "  rate_decimals: 2\n  min_significant: 4\n",
        "  rate_decimals: 0\n  min_significant: 1\n",
    )
    assert load_config().routing.max_rounding_percent == Decimal("0.015")


@pytest.mark.parametrize("bound", ["0", "-0.5"])
def test_max_rounding_percent_must_be_positive(project: Path, edit, pos, bound: str) -> None:
    edit("config.yaml", "max_rounding_percent: 0.015", f"max_rounding_percent: {bound}")
    assert problems() == [
        f"config.yaml:{pos('config.yaml', f'max_rounding_percent: {bound}', at=bound)}: "
        f"routing.max_rounding_percent: {bound} cannot be met: a rate shown with a fixed "
        "number of decimals is rounded, and rounding it towards the desk adds a little to the "
        "typed margin; set a positive number of percentage points, e.g. 0.015 (the default)"
    ]


def test_max_rounding_percent_too_small(project: Path, edit, pos) -> None:
    edit("config.yaml", "max_rounding_percent: 0.015", "max_rounding_percent: 0.00001")
    assert problems() == [
        f"config.yaml:{pos('config.yaml', '0.00001')}: routing.max_rounding_percent: 0.00001 "
        "is too small: a market rate of 0.000001 would need 13 decimals to stay within it, "
        "and a rate is shown with at most 12; set at least 0.0001 (the default is 0.015)"
    ]


def test_smallest_max_rounding_percent_passes(project: Path, edit) -> None:
    edit("config.yaml", "max_rounding_percent: 0.015", "max_rounding_percent: 0.0001")
    assert load_config().routing.max_rounding_percent == Decimal("0.0001")


def test_max_rounding_percent_not_a_number(project: Path, edit, pos) -> None:
    edit("config.yaml", "max_rounding_percent: 0.015", "max_rounding_percent: .nan")
    assert problems() == [
        f"config.yaml:{pos('config.yaml', '.nan')}: routing.max_rounding_percent: "
        "must be a plain number (not infinity or NaN)"
    ]


def test_alias_naming_two_currencies(project: Path, edit, pos) -> None:
    edit("config.yaml", "    aliases: [бат, бата,", "    aliases: [Руб, бат, бата,")
    first = pos("config.yaml", "[руб, рубль", at="руб").split(":")[0]
    assert problems() == [
        f"config.yaml:{pos('config.yaml', 'Руб, бат', at='Руб')}: currencies[THB].aliases[1]: "
        f"'Руб' already names RUB (line {first}); a word may name one currency only, so "
        "remove it from one of them"
    ]


def test_alias_that_is_another_currencys_code(project: Path, edit, pos) -> None:
    edit("config.yaml", "    aliases: [евро, €,", "    aliases: [евро, usd, €,")
    line = pos("config.yaml", "code: USD\n").split(":")[0]
    assert problems() == [
        f"config.yaml:{pos('config.yaml', 'usd, €', at='usd')}: currencies[EUR].aliases[2]: "
        f"'usd' already names USD (line {line}); a word may name one currency only, so "
        "remove it from one of them"
    ]
