"""One-line quotes: ``1000 rub usdt 2`` read as amount, give, get and margin. Pure.

Accepted forms (any case, words in any order around the numbers)::

    1000 rub usdt 2            1000 rub usdt 2%         1 000 000 руб в usdt 1,5
    usdt 500 → thb             500 usdt -> rub          /q 1000 руб за usdt

* Currencies are codes or the ``aliases`` of config.yaml (``руб``, ``₽``): the first is the
  one the client gives, the second the one it gets. ``в``, ``to``, ``→``, ``->``, ``за``…
  between them are only read as "into".
* The amount is the first number without ``%`` and is in the give currency; the margin is
  the number with ``%``, else the second number; with no margin ``quote.default_margin``.
* Numbers follow :mod:`engine.flow.parse` (``1 000 000``, ``1,5``; ``1,000`` is refused as
  ambiguous); limits are the dialog's: the flow's percent step for the margin, the give
  currency's min/max/decimals for the amount.

Anything else is refused with :class:`OneLineRejectedError`, whose ``section`` and
``code`` name a text of ``strings.yaml``: ``oneline.*`` for what was not understood (with
what was), ``errors.*`` for a number the dialog would refuse too.

Receive mode: a receive word before everything else ("получить 500 usdt за rub 2",
"receive 500 usdt for rub") makes the amount what the client receives, in the currency
next to it, and the other currency the one the client gives; limits are then the
received currency's, as in the dialog after "enter the amount received".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from markupsafe import Markup

from engine.config.models import AppConfig
from engine.errors import EngineError
from engine.flow.actions import FIXED_KEY
from engine.flow.context import error_text, input_limits
from engine.flow.parse import InputRejectedError, NumberRule, parse_number, visible_text
from engine.flow.schema import FlowConfig
from engine.rates.quote import Fixed
from engine.render import Renderer
from engine.texts import REQUIRED_STRINGS

MAX_LINE_LENGTH = 120
# Every variable an ``oneline.*`` text may use (StrictUndefined: each is always given).
REPLY_VARIABLES = ("amount", "give", "get", "margin", "example", "word", "codes", "gets", "gives")
# Read as "into": they may stand between the two currencies, and mean nothing more.
CONNECTORS = frozenset(
    {"в", "во", "на", "за", "to", "into", "in", "for", "->", "=>", "→", "⇒", "/", "-", "—", "–"}
)
# Explicit give mode and filler words: allowed, ignored. A receive word before the amount
# means receive mode (not available yet); after it, a filler.
FILLERS = frozenset(
    {"отдаёт", "отдает", "отдаю", "отдать", "give", "gives", "наценка", "маржа", "margin", "с"}
)
RECEIVE_WORDS = frozenset(
    {"получить", "получит", "получает", "получу", "receive", "receives", "get", "gets"}
)
# A number: "1 000 000,5" (groups of three after spaces), "1000,5", "1.000.000", "-2";
# an arrow; a run of letters; any other single character.
_TOKEN = re.compile(
    r"(?P<number>-?(?:[0-9]{1,3}(?:[ \u00a0\u202f\u2009][0-9]{3})+(?![0-9])(?:[.,][0-9]+)?"
    r"|[0-9]+(?:[.,][0-9]+)*))(?P<percent>\s*%)?"
    r"|(?P<arrow>->|=>|—>|→|⇒|➝|➔)"
    r"|(?P<word>[^\W\d_]+)"
    r"|(?P<other>\S)"
)


@dataclass(frozen=True, slots=True)
class OneLine:
    """What a line says, before any limit is checked (numbers as typed)."""

    amount: str | None = None
    give: str | None = None
    get: str | None = None
    margin: str | None = None
    unknown: tuple[str, ...] = ()
    receive: bool = False
    extra: bool = False  # more numbers or currencies than a quote has

    @property
    def attempt(self) -> bool:
        """Whether the line looks like a quote at all (a plain text that does not is left
        to the bot's usual reply): a currency and a number, or a receive word."""
        has_currency = self.give is not None or self.get is not None
        return has_currency and (self.amount is not None or self.receive)


@dataclass(frozen=True, slots=True)
class QuoteRequest:
    """A one-line quote that passed every check: what ``compute_quote`` needs."""

    give: str
    get: str
    amount: Decimal
    margin: Decimal
    default_margin: bool
    fixed: Fixed = "give"  # receive: ``amount`` is what the client receives, of ``get``

    def as_data(self) -> dict[str, str]:
        """As dialog data (JSON-safe), the keys the exchange flow saves."""
        return {
            "give": self.give,
            "get": self.get,
            "amount": str(self.amount),
            "margin": str(self.margin),
            FIXED_KEY: self.fixed,
        }


@dataclass(frozen=True)
class OneLineRejectedError(EngineError):
    """A one-line quote that cannot be given; the reply is ``strings.yaml``
    ``section.code`` rendered with ``params``."""

    section: str
    code: str
    params: dict[str, object] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.section}.{self.code} {self.params}"


def vocabulary(config: AppConfig) -> dict[str, str]:
    """Every word that names a currency (case-folded) → its code; the code always does."""
    words: dict[str, str] = {}
    for cur in config.currencies:
        for alias in cur.aliases:
            words.setdefault(alias.strip().casefold(), cur.code)
    for cur in config.currencies:
        words[cur.code.casefold()] = cur.code
    return words


def read_line(text: str, words: Mapping[str, str]) -> OneLine:
    """Split ``text`` into amount, currencies and margin (no limits checked).

    Raises:
        OneLineRejectedError: ``errors.hidden_characters``, ``errors.too_long`` or
            ``errors.foreign_digits``, as for a number typed into the dialog.
    """
    try:
        seen = visible_text(text)
    except InputRejectedError as exc:
        raise OneLineRejectedError("errors", exc.code) from None
    if len(seen) > MAX_LINE_LENGTH:
        raise OneLineRejectedError("errors", "too_long", {"max_length": MAX_LINE_LENGTH})
    numbers: list[str] = []
    percents: list[str] = []
    currencies: list[str] = []
    unknown: list[str] = []
    receive = False
    for match in _TOKEN.finditer(seen):
        kind = match.lastgroup
        token = match.group(0)
        if match.group("number") is not None:
            (percents if match.group("percent") else numbers).append(match.group("number"))
            continue
        if kind == "other" and token.isdigit():
            raise OneLineRejectedError("errors", "foreign_digits", {"input": seen})
        word = token.casefold()
        if word in words:
            currencies.append(words[word])
        elif word in RECEIVE_WORDS:
            # "получить 500 usdt за rub": the amount is what the client receives. After
            # the amount ("1000 rub, gets usdt") it is only a filler.
            receive = receive or not (numbers or percents or currencies)
        elif word not in CONNECTORS and word not in FILLERS and word not in ("%", ",", "."):
            unknown.append(token)
    amount = numbers[0] if numbers else None
    margin = percents[0] if percents else (numbers[1] if len(numbers) > 1 else None)
    used = (amount is not None) + (margin is not None)
    first = currencies[0] if currencies else None
    second = currencies[1] if len(currencies) > 1 else None
    return OneLine(
        amount=amount,
        # "получить 500 usdt за rub": the amount's currency is the one the client receives
        give=second if receive else first,
        get=first if receive else second,
        margin=margin,
        unknown=tuple(unknown),
        receive=receive,
        extra=len(numbers) + len(percents) > used or len(currencies) > 2,
    )


def understood(line: OneLine) -> dict[str, object]:
    """What a reply says was understood (``None`` for a part missing)."""
    return {"amount": line.amount, "give": line.give, "get": line.get, "margin": line.margin}


def example(config: AppConfig, line: OneLine) -> str:
    """A line that would work, as close to ``line`` as the directions allow."""
    give = line.give if line.give in config.directions else next(iter(config.directions))
    gets = config.directions[give]
    get = line.get if line.get in gets else gets[0]
    amount = "500" if give == "USDT" else "1000"
    return f"{amount} {give.lower()} {get.lower()} 2"


def check_line(line: OneLine, config: AppConfig, flow: FlowConfig) -> QuoteRequest:
    """Everything the dialog would check, for a line :func:`read_line` split.

    Raises:
        OneLineRejectedError: what is missing or refused.
    """
    params: dict[str, object] = {**understood(line), "example": example(config, line)}
    if line.unknown:
        params.update(word=line.unknown[0][:24], codes=", ".join(config.currency_codes))
        raise OneLineRejectedError("oneline", "unknown_word", params)
    if line.extra:
        raise OneLineRejectedError("oneline", "too_many", params)
    if line.amount is None:
        raise OneLineRejectedError("oneline", "missing_amount", params)
    if line.give is None or line.get is None:
        raise OneLineRejectedError("oneline", "missing_currency", params)
    gets = config.directions.get(line.give, [])
    if line.get not in gets:
        params.update(gets=", ".join(gets), gives=", ".join(config.directions))
        raise OneLineRejectedError("oneline", "unknown_direction", params)
    fixed: Fixed = "receive" if line.receive else "give"
    data = {"give": line.give, "get": line.get, FIXED_KEY: fixed}
    unit = line.get if line.receive else line.give
    amount = _number(line.amount, amount_rule(config, flow, data), unit)
    margin_rule = percent_rule(config, flow)
    if line.margin is None:
        margin = config.quote.default_margin
        _number(str(margin), margin_rule, "%")
    else:
        margin = _number(line.margin, margin_rule, "%")
    return QuoteRequest(line.give, line.get, amount, margin, line.margin is None, fixed)


def amount_rule(config: AppConfig, flow: FlowConfig, data: Mapping[str, str]) -> NumberRule:
    """The amount step's rule (the limits of the currency typed: the one given, or with
    ``fixed: receive`` the one received), as the dialog applies it."""
    for step in flow.steps.values():
        if step.kind == "input" and step.input is not None and step.input.type == "amount":
            return input_limits(step, config, flow.answers(data)).rule
    cur = config.currency(data["get" if data.get(FIXED_KEY) == "receive" else "give"])
    return NumberRule(cur.min_amount, cur.max_amount, cur.decimals)


def percent_rule(config: AppConfig, flow: FlowConfig) -> NumberRule:
    """The margin step's rule (the flow's percent input min/max/decimals)."""
    for step in flow.steps.values():
        if step.kind == "input" and step.input is not None and step.input.type == "percent":
            return input_limits(step, config, {}).rule
    return NumberRule(Decimal(0), None, None, allow_percent=True)


def _number(text: str, rule: NumberRule, unit: str) -> Decimal:
    try:
        return parse_number(text, rule)
    except InputRejectedError as exc:
        raise OneLineRejectedError(
            "errors", exc.code, {**exc.params, "input": text, "unit": unit}
        ) from None


def rejection_text(renderer: Renderer, locale: str, exc: OneLineRejectedError) -> str:
    """The one-line reply to a refused quote, in ``locale``."""
    if exc.section == "errors":
        error = {"code": exc.code, "params": exc.params, "input": exc.params.get("input", "")}
        return str(error_text(renderer, locale, error, None))
    context: dict[str, object] = dict.fromkeys(REPLY_VARIABLES, "")
    context.update({k: "" if v is None else v for k, v in exc.params.items()})
    context["understood"] = Markup(renderer.string(locale, "oneline", "understood", context))
    return renderer.string(locale, "oneline", exc.code, context)


def sample_rejections(config: AppConfig) -> dict[str, OneLineRejectedError]:
    """One refusal per ``oneline.*`` text, for ``crypto-helper check`` and snapshots."""
    give = next(iter(config.directions))
    get = config.directions[give][0]
    line = OneLine(amount="1000", give=give, get=get, margin="2")
    params: dict[str, object] = {**understood(line), "example": example(config, line)}
    extra = {
        "unknown_word": {"word": "xyz", "codes": ", ".join(config.currency_codes)},
        "unknown_direction": {
            "gets": ", ".join(config.directions[give]),
            "gives": ", ".join(config.directions),
        },
    }
    return {
        code: OneLineRejectedError("oneline", code, {**params, **extra.get(code, {})})
        for code in REQUIRED_STRINGS["oneline"]
        if code != "understood"
    }
