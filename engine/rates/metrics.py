"""Counters of the rates layer as plain data; an exporter (Prometheus) reads them elsewhere."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from engine.rates.breaker import BreakerState
from engine.rates.budget import BudgetStatus
from engine.rates.cache import CacheStats
from engine.rates.guard import Disagreement, Hold


@dataclass(slots=True)
class UpstreamStats:
    """One provider's upstream calls (a call refused by an open circuit is not a call)."""

    calls: int = 0
    errors: int = 0
    latency_seconds_sum: float = 0.0


@dataclass(frozen=True, slots=True)
class RatesMetrics:
    """A snapshot of every counter, taken by :meth:`RateService.metrics`."""

    cache: CacheStats
    upstream: Mapping[str, UpstreamStats]
    breakers: Mapping[str, BreakerState]
    held_total: Mapping[str, int] = field(default_factory=dict)  # jumps held, per provider
    holds: tuple[Hold, ...] = ()  # held now
    disagreements: tuple[Disagreement, ...] = ()  # pairs whose sources disagree now
    budgets: tuple[BudgetStatus, ...] = ()  # metered providers, as last read
