"""Checks across sections of config.yaml, each reported with its file:line.

Every check appends to one list, so a person sees all problems of an edit at once.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from decimal import Decimal

from engine.config.models import AppConfig, RoutingConfig
from engine.config.source import SourceMap, did_you_mean
from engine.errors import Problem
from engine.rates.routing import NoRouteError, resolve, routed_pairs
from engine.telegram import MAX_COMMAND_DESCRIPTION, check_plain_text
from providers.base import Pair
from providers.registry import ProviderRegistry


def check_config(config: AppConfig, smap: SourceMap, registry: ProviderRegistry) -> list[Problem]:
    """All cross-reference problems of a structurally valid config."""
    problems: list[Problem] = []
    add = problems.append
    codes = config.currency_codes
    locales = config.locales

    def unknown_currency(code: str, loc: tuple[str | int, ...], *, key: bool = False) -> bool:
        if code in codes:
            return False
        add(
            smap.problem(
                loc, f"{code!r} is not a configured currency{did_you_mean(code, codes)}", key=key
            )
        )
        return True

    def check_locales(texts: dict[str, str], loc: tuple[str | int, ...]) -> None:
        for locale in locales:
            if locale not in texts:
                add(smap.problem(loc, f"missing the {locale!r} text"))
        for locale in texts:
            if locale not in locales:
                add(
                    smap.problem(
                        (*loc, locale),
                        f"{locale!r} is not in locales{did_you_mean(locale, locales)}",
                        key=True,
                    )
                )

    if config.bot.default_locale not in locales:
        add(
            smap.problem(
                ("bot", "default_locale"),
                f"{config.bot.default_locale!r} is not in locales {locales}",
            )
        )

    seen: dict[str, int] = {}
    for i, cur in enumerate(config.currencies):
        if cur.code in seen:
            add(
                smap.problem(
                    ("currencies", i, "code"),
                    f"{cur.code!r} is already defined on line "
                    f"{smap.position(('currencies', seen[cur.code]))[0]}; each code once",
                )
            )
        seen.setdefault(cur.code, i)
        check_locales(cur.name, ("currencies", i, "name"))

    for give, gets in config.directions.items():
        unknown_currency(give, ("directions", give), key=True)
        for j, get in enumerate(gets):
            loc = ("directions", give, j)
            if unknown_currency(get, loc):
                continue
            if get == give:
                add(smap.problem(loc, f"a currency cannot be exchanged for itself ({give})"))
            elif gets.index(get) != j:
                add(smap.problem(loc, f"{get!r} is listed twice for {give}"))

    routing = config.routing
    unknown_currency(routing.pivot, ("routing", "pivot"))
    for i, rule in enumerate(routing.rules):
        rloc = ("routing", "rules", i)
        for j, text in enumerate(rule.pairs):
            pair = Pair.parse(text)
            for code in (pair.base, pair.quote):
                if code not in codes:
                    add(
                        smap.problem(
                            (*rloc, "pairs", j),
                            f"{code!r} in {text} is not a configured currency"
                            f"{did_you_mean(code, codes)}",
                        )
                    )
        for k, name in enumerate(rule.providers):
            ploc = (
                (*rloc, "provider") if isinstance(rule.provider, str) else (*rloc, "provider", k)
            )
            provider = config.providers.get(name)
            if provider is None:
                add(
                    smap.problem(
                        ploc,
                        f"{name!r} is not a configured provider"
                        f"{did_you_mean(name, config.providers)}",
                    )
                )
                continue
            if provider.kind in registry:
                fields = registry.get(provider.kind).price_fields
                wanted = (
                    [rule.price]
                    if isinstance(rule.price, str)
                    else [rule.price.client_buys, rule.price.client_sells]
                )
                for field in dict.fromkeys(wanted):
                    if field not in fields:
                        add(
                            smap.problem(
                                (*rloc, "price"),
                                f"provider {name!r} ({provider.kind}) has no "
                                f"{field!r} price; it offers {sorted(fields)}",
                            )
                        )
    for i, code in enumerate(routing.price_order):
        unknown_currency(code, ("routing", "price_order", i))

    if not problems:
        problems += _check_routes(config, smap)
    problems += _check_rounding(routing, smap)
    table = routed_pairs(routing.rules)
    for i, text in enumerate(config.preload.pairs):
        pair = Pair.parse(text)
        if pair not in table:
            add(
                smap.problem(
                    ("preload", "pairs", i),
                    f"{text} is not served by any routing rule"
                    f"{did_you_mean(text, [str(p) for p in table])}",
                )
            )

    for i, cmd in enumerate(config.bot.commands):
        check_locales(cmd.description, ("bot", "commands", i, "description"))
        for locale, text in cmd.description.items():
            for found in check_plain_text(
                text, MAX_COMMAND_DESCRIPTION, what="a command description"
            ):
                add(smap.problem(("bot", "commands", i, "description", locale), found.message))
    for i, flow in enumerate(config.flows):
        if not flow.is_file():
            add(smap.problem(("flows", i), f"flow file not found: {flow}"))
    if not config.templates_dir.is_dir():
        add(
            smap.problem(("templates_dir",), f"templates folder not found: {config.templates_dir}")
        )
    problems += _check_static_rates(config, smap)
    problems += _check_iso_codes(config, smap)
    problems += check_aliases(config, smap)
    return problems


def check_aliases(config: AppConfig, smap: SourceMap) -> list[Problem]:
    """A word (an alias or a code, in any case) may name one currency only: in a one-line
    quote ``1000 бат usdt`` must not depend on which currency is listed first."""
    owner: dict[str, tuple[str, tuple[str | int, ...]]] = {
        cur.code.casefold(): (cur.code, ("currencies", i, "code"))
        for i, cur in enumerate(config.currencies)
    }
    problems: list[Problem] = []
    for i, cur in enumerate(config.currencies):
        for j, alias in enumerate(cur.aliases):
            word = alias.strip().casefold()
            loc: tuple[str | int, ...] = ("currencies", i, "aliases", j)
            first = owner.get(word)
            if first is None:
                owner[word] = (cur.code, loc)
                continue
            code, where = first
            if code == cur.code:
                continue  # its own code or a repeat: harmless
            line = smap.position(where)[0]
            problems.append(
                smap.problem(
                    loc,
                    f"{alias!r} already names {code} (line {line}); a word may name one "
                    "currency only, so remove it from one of them",
                )
            )
    return problems


def _check_static_rates(config: AppConfig, smap: SourceMap) -> list[Problem]:
    """Every routed pair needs a rate in ``providers.static`` when there is such a block:
    ``--offline``, ``check`` and ``preview`` quote from it."""
    block = config.providers.get("static")
    rates = getattr(block, "rates", None)
    if not isinstance(rates, dict):
        return []
    have = {str(Pair.parse(key)) for key in rates}
    have |= {str(Pair.parse(key).inverse()) for key in rates}
    problems = []
    for text in routed_pairs(config.routing.rules):
        if str(text) not in have:
            problems.append(
                smap.problem(
                    ("providers", "static", "rates"),
                    f"no demo rate for {text}: add a line '{text}: \"…\"' here "
                    "(--offline, check and preview quote from these rates)",
                )
            )
    return problems


def _check_iso_codes(config: AppConfig, smap: SourceMap) -> list[Problem]:
    """A fiat code that is not an ISO 4217 code is probably a typo: a warning."""
    known = iso_currency_codes()
    return [
        Problem(
            smap.file,
            *smap.position(("currencies", i, "code")),
            smap.label(("currencies", i, "code")),
            f"{cur.code} is not an ISO 4217 currency code (USD, EUR, THB…); if it is a "
            "crypto currency, set kind: crypto",
            warning=True,
        )
        for i, cur in enumerate(config.currencies)
        if cur.kind == "fiat" and cur.code not in known
    ]


@functools.cache
def iso_currency_codes() -> frozenset[str]:
    """ISO 4217 codes as Babel knows them (CLDR)."""
    from babel.numbers import list_currencies

    return frozenset(list_currencies())


def _check_routes(config: AppConfig, smap: SourceMap) -> Iterable[Problem]:
    for give, gets in config.directions.items():
        for j, get in enumerate(gets):
            try:
                resolve(config, give, get)
            except NoRouteError as exc:
                yield smap.problem(("directions", give, j), f"{give} → {get}: {exc}")


# The bound must be met for market rates down to _SMALLEST_RATE (1 IDR is about 0.0057 RUB:
# this leaves a factor of thousands) within _MAX_BOUND_PLACES decimals: a rate with more is
# no longer read, only copied, and 12 is also the most significant digits min_significant
# may ask for.
_SMALLEST_RATE = Decimal("0.000001")
_MAX_BOUND_PLACES = 12


def _check_rounding(routing: RoutingConfig, smap: SourceMap) -> Iterable[Problem]:
    """``max_rounding_percent`` is a bound a shown rate can meet.

    ``rate_decimals`` and ``min_significant`` are only display minimums (the bound adds
    decimals where they fall short), so no value of theirs can break it.
    """
    loc = ("routing", "max_rounding_percent")
    bound = routing.max_rounding_percent
    if bound <= 0:
        yield smap.problem(
            loc,
            f"{bound} cannot be met: a rate shown with a fixed number of decimals is rounded, "
            "and rounding it towards the desk adds a little to the typed margin; set a "
            "positive number of percentage points, e.g. 0.015 (the default)",
        )
        return
    places = routing.bound_places(_SMALLEST_RATE)
    if places > _MAX_BOUND_PLACES:
        least = Decimal(100) * Decimal(1).scaleb(-_MAX_BOUND_PLACES) / _SMALLEST_RATE
        yield smap.problem(
            loc,
            f"{bound} is too small: a market rate of {_SMALLEST_RATE} would need {places} "
            f"decimals to stay within it, and a rate is shown with at most "
            f"{_MAX_BOUND_PLACES}; set at least {least.normalize():f} (the default is 0.015)",
        )
