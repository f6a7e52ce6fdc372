"""Parsing what people type into a number field.

Accepted: ``2``, ``2.5``, ``2,5``, ``2.5%`` (percent fields), ``1 000 000``, ``1000,50``,
``1,000,000.50``, ``1.000.000,50``, with ordinary, non-breaking or thin spaces as group
separators. A single ``,`` or ``.`` is the decimal separator; a separator repeated, or
followed by the other one, groups thousands. ``1,000`` or ``25.000`` (one separator, exactly
three digits after it) is refused as ambiguous when the thousands reading is an acceptable
value too: a thousand-fold error in a deal is worse than asking to type ``1000`` or ``1,5``.

Rejected with a specific :class:`InputRejectedError` code: anything that is not a plain
positive decimal (letters, signs, NaN, Infinity, exponents like ``1e309``, HTML), values out
of range, too many decimals, and absurdly long input. Written by hand because the rules are
the product's ("what people type at an exchange desk"), not a locale's: Babel's
``parse_decimal`` accepts exponents and needs the locale guessed first.

Text that looks like one thing and is another (issue 9 §5):

* Characters nobody sees (Unicode's *default ignorable* code points: zero-width spaces and
  joiners, word joiner, BOM, soft hyphen, variation selectors, tags, musical formatting,
  Hangul fillers) are removed: ``5`` followed by them is read as the ``5`` that was seen.
* Direction controls (LRM/RLM/ALM, embeddings, overrides, isolates), the deprecated digit
  shaping controls and every other format (Cf) character are refused (``hidden_characters``):
  they can show the digits in another order or shape than the one sent, so removing them
  could read a number the person did not see.
* Full-width digits and signs (``１５００，５``, from CJK keyboards) are read as ASCII: they are
  the same glyphs, only wider. Digits of other scripts (Arabic-Indic ``٣``, Persian ``۳``,
  Devanagari, superscripts, circled) are refused (``foreign_digits``): ``١٠٥`` looks like
  ``1.5`` to a reader of Latin digits, and means 105.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

MAX_INPUT_LENGTH = 40
# Default_Ignorable_Code_Point (Unicode DerivedCoreProperties.txt) less the controls that can
# reorder or reshape what is shown (U+061C, U+200E/F, U+202A-E, U+2066-F): those are refused.
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200d\u2060-\u2065"
    "\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0000-\U000e0fff]"
)
# Full-width ASCII (U+FF01-FF5E) and the ideographic space, as the ASCII they look like.
_FULL_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
_SPACES = re.compile(r"[\s\u00a0\u202f\u2009\u2007'’_]")
# ASCII digits only: Decimal() alone would also read "٣" or "३" as 3.
_PLAIN = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_GROUPED = re.compile(r"[0-9]{1,3}(?:[.,][0-9]{3})+")
# "1,000" / "25.000": a thousand, or one with three decimals? Money is not guessed.
_AMBIGUOUS = re.compile(r"[1-9][0-9]{0,2}[.,][0-9]{3}")


@dataclass(frozen=True)
class InputRejectedError(ValueError):
    """Typed text is not acceptable.

    Attributes:
        code: which rule failed: ``empty``, ``too_long``, ``hidden_characters``,
            ``foreign_digits``, ``not_a_number``, ``ambiguous``, ``negative``, ``too_small``,
            ``too_large``, ``too_many_decimals``.
        params: values for the message template (limits as Decimals).
    """

    code: str
    params: dict[str, Decimal | int | str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.code} {self.params}"


@dataclass(frozen=True, slots=True)
class NumberRule:
    """Limits for one field."""

    min: Decimal | None = None
    max: Decimal | None = None
    max_decimals: int | None = None
    allow_percent: bool = False


def strip_invisible(text: str) -> str:
    """``text`` without the characters nobody sees (direction and other controls kept)."""
    return _INVISIBLE.sub("", text)


def visible_text(text: str) -> str:
    """``text`` as it was seen: invisible characters removed, full-width forms as ASCII.

    Raises:
        InputRejectedError: ``hidden_characters`` for a direction or other format control.
    """
    seen = strip_invisible(text)
    if any(unicodedata.category(char) == "Cf" for char in seen):
        raise InputRejectedError("hidden_characters")
    return seen.translate(_FULL_WIDTH).strip()


def normalize(text: str, *, allow_percent: bool = False) -> str:
    """Text as a canonical ``123.45`` string, or raise :class:`InputRejectedError`."""
    raw = visible_text(text)
    if not raw:
        raise InputRejectedError("empty")
    if len(raw) > MAX_INPUT_LENGTH:
        raise InputRejectedError("too_long", {"max_length": MAX_INPUT_LENGTH})
    if any(not char.isascii() and char.isdigit() for char in raw):
        raise InputRejectedError("foreign_digits")
    body = _SPACES.sub("", raw)
    if allow_percent and body.endswith("%"):
        body = body[:-1]
    if body.startswith("-") and _PLAIN.fullmatch(body[1:].replace(",", ".")):
        raise InputRejectedError("negative")
    commas, dots = body.count(","), body.count(".")
    if commas and dots:
        # The separator that comes last is the decimal one: 1,000.50 / 1.000,50
        dec, group = (".", ",") if body.rfind(".") > body.rfind(",") else (",", ".")
        whole, _, frac = body.rpartition(dec)
        if not _GROUPED.fullmatch(whole) or group not in whole:
            raise InputRejectedError("not_a_number")
        body = whole.replace(group, "") + "." + frac
    elif commas > 1 or dots > 1:
        if not _GROUPED.fullmatch(body):
            raise InputRejectedError("not_a_number")
        body = body.replace(",", "").replace(".", "")
    else:
        body = body.replace(",", ".")
    if not _PLAIN.fullmatch(body):
        raise InputRejectedError("not_a_number")
    return body


def parse_number(text: str, rule: NumberRule) -> Decimal:
    """Parse and check ``text`` against ``rule``.

    Raises:
        InputRejectedError: with the failed rule's code and the limits as params.
    """
    body = normalize(text, allow_percent=rule.allow_percent)
    if _AMBIGUOUS.fullmatch(body) and _in_range(Decimal(body.replace(".", "")), rule):
        raise InputRejectedError("ambiguous", {"input": visible_text(text)})
    try:
        value = Decimal(body)
    except InvalidOperation:  # pragma: no cover - _PLAIN only admits valid decimals
        raise InputRejectedError("not_a_number") from None
    decimals = len(body.partition(".")[2].rstrip("0"))  # 1000,00 has no decimals that count
    if rule.max_decimals is not None and decimals > rule.max_decimals:
        raise InputRejectedError("too_many_decimals", {"max_decimals": rule.max_decimals})
    if rule.min is not None and value < rule.min:
        raise InputRejectedError("too_small", {"min": rule.min, "max": _or_blank(rule.max)})
    if rule.max is not None and value > rule.max:
        raise InputRejectedError("too_large", {"max": rule.max, "min": _or_blank(rule.min)})
    return value


def _in_range(value: Decimal, rule: NumberRule) -> bool:
    return (rule.min is None or value >= rule.min) and (rule.max is None or value <= rule.max)


def _or_blank(value: Decimal | None) -> Decimal | str:
    return "" if value is None else value
