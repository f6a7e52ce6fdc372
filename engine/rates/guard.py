"""The jump guard: a price far from the last accepted one is held until it is believable.

Every fetched quote is reviewed against the last accepted quote of the same provider and
pair (its ``close``). Within ``guard.max_jump_percent`` it is accepted. Beyond it, it is
**held**, not quoted, and the last accepted quote keeps being served, flagged stale, with
its real age (past its expiry the pair is unavailable from that provider, and the next
provider of the rule serves). A held price is accepted when:

* **another source confirms it**: some other provider's recent quote of the same pair is
  within ``max_jump_percent`` of the new price; or
* **it persists**: the same source keeps reporting prices within ``max_jump_percent`` of
  it for ``guard.confirm_after_seconds``. Back-to-back fetches do not shorten that: only
  the time since it was first seen counts.

A new price that jumps away from the held one starts the wait again. Holds are kept per
process (with Redis, each replica that fetches reviews what it fetched).

The same module compares two sources of one pair (:func:`disagreement`): beyond
``guard.max_disagreement_percent`` it is logged when it starts and shown on ``/rates``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal

from engine.config.models import GuardConfig
from providers.base import Pair, Quote

logger = logging.getLogger("engine.rates")

_HUNDRED = Decimal(100)


def change_percent(old: Decimal, new: Decimal) -> Decimal:
    """``new`` relative to ``old`` in percent (positive: up)."""
    return (new / old - 1) * _HUNDRED


@dataclass(frozen=True, slots=True)
class Hold:
    """A price held back by the guard.

    Attributes:
        provider: who reported it.
        pair: its pair.
        accepted: the close of the last accepted quote (still served).
        candidate: the latest held quote.
        candidate_fetched_at: the service clock's time that quote was fetched.
        first_seen: the timer's time the held level was first reported.
    """

    provider: str
    pair: Pair
    accepted: Decimal
    candidate: Quote
    candidate_fetched_at: float
    first_seen: float

    @property
    def jump_percent(self) -> Decimal:
        return change_percent(self.accepted, self.candidate.close)


class PriceGuard:
    """Reviews fetched quotes; keeps the holds and a count of them.

    Args:
        settings: config.yaml's ``guard`` block.
        timer: monotonic seconds (how long a held price has persisted).
    """

    def __init__(self, settings: GuardConfig, timer: Callable[[], float]) -> None:
        self._limit = settings.max_jump_percent
        self._persist = settings.confirm_after_seconds
        self._timer = timer
        self._holds: dict[tuple[str, Pair], Hold] = {}
        self.held_total: dict[str, int] = {}

    def within(self, a: Decimal, b: Decimal) -> bool:
        """Whether ``b`` is within ``max_jump_percent`` of ``a``."""
        return abs(change_percent(a, b)) <= self._limit

    def held(self, provider: str, pair: Pair) -> Hold | None:
        return self._holds.get((provider, pair))

    @property
    def holds(self) -> list[Hold]:
        return list(self._holds.values())

    def review(
        self,
        provider: str,
        new: Quote,
        fetched_at: float,
        previous: Quote | None,
        others: Iterable[tuple[str, Quote]],
    ) -> bool:
        """Whether ``new`` may replace ``previous``; otherwise it is (still) held.

        ``others`` are other providers' recent quotes of the same pair.
        """
        key = (provider, new.pair)
        if previous is None or self.within(previous.close, new.close):
            if self._holds.pop(key, None) is not None:
                logger.info("rates: %s %s back near its last accepted price", provider, new.pair)
            return True
        confirmed = next(
            (name for name, quote in others if self.within(quote.close, new.close)), None
        )
        hold = self._holds.get(key)
        now = self._timer()
        same_level = hold is not None and self.within(hold.candidate.close, new.close)
        first_seen = hold.first_seen if hold is not None and same_level else now
        if confirmed is not None or now - first_seen >= self._persist:
            self._holds.pop(key, None)
            logger.warning(
                "rates: %s %s accepted at %s (%+.2f %% from %s): %s",
                provider,
                new.pair,
                new.close,
                change_percent(previous.close, new.close),
                previous.close,
                f"confirmed by {confirmed}"
                if confirmed is not None
                else f"persisted {now - first_seen:.0f} s",
            )
            return True
        if not same_level:
            self.held_total[provider] = self.held_total.get(provider, 0) + 1
            logger.warning(
                "rates: %s %s jumped from %s to %s (%+.2f %%): held, not quoted, until another "
                "source confirms it or it persists %.0f s",
                provider,
                new.pair,
                previous.close,
                new.close,
                change_percent(previous.close, new.close),
                self._persist,
            )
        self._holds[key] = Hold(provider, new.pair, previous.close, new, fetched_at, first_seen)
        return False

    def confirmed_by(self, provider: str, pair: Pair, quote: Quote) -> list[Hold]:
        """Other providers' holds on ``pair`` that ``quote`` confirms; they are released."""
        released = []
        for (name, held_pair), hold in list(self._holds.items()):
            if held_pair != pair or name == provider:
                continue
            if not self.within(quote.close, hold.candidate.close):
                continue
            del self._holds[(name, held_pair)]
            released.append(hold)
            logger.warning(
                "rates: %s %s accepted at %s (%+.2f %% from %s): confirmed by %s",
                name,
                pair,
                hold.candidate.close,
                hold.jump_percent,
                hold.accepted,
                provider,
            )
        return released


@dataclass(frozen=True, slots=True)
class Disagreement:
    """Two sources of one pair further apart than ``guard.max_disagreement_percent``."""

    pair: Pair
    first: str
    first_close: Decimal
    second: str
    second_close: Decimal

    @property
    def percent(self) -> Decimal:
        return abs(change_percent(self.first_close, self.second_close))


def disagreement(
    settings: GuardConfig, pair: Pair, quotes: Iterable[tuple[str, Quote]]
) -> Disagreement | None:
    """The widest gap between the first source and the others, if beyond the limit."""
    items = list(quotes)
    if len(items) < 2:
        return None
    first, base = items[0]
    widest: Disagreement | None = None
    for name, quote in items[1:]:
        gap = Disagreement(pair, first, base.close, name, quote.close)
        if gap.percent > settings.max_disagreement_percent and (
            widest is None or gap.percent > widest.percent
        ):
            widest = gap
    return widest
