"""Prometheus metrics of the bot, on a registry of its own (never the global one).

:class:`BotMetrics` owns a :class:`~prometheus_client.CollectorRegistry` holding

* what the bot counts itself: updates handled, step latency, quotes given;
* what the rates layer already counts, exported by :class:`RatesCollector` from
  :meth:`RateService.metrics` at scrape time, so nothing is counted twice;
* the process collector (``process_resident_memory_bytes``…, Linux only).

Families (``crypto_helper_`` prefix; counters end in ``_total`` on the wire)::

    updates_total{type, outcome}            outcome: ok | error | unhandled
    updates_skipped_total{reason}           updates not parsed: invalid | malformed
    step_duration_seconds{flow, step}       histogram; "none" outside any dialog
    quotes_total{give, get}
    cache_hits_total / cache_misses_total / cache_stale_hits_total / cache_evictions_total
    upstream_calls_total{provider} / upstream_errors_total{provider}
    upstream_latency_seconds{provider}      summary: _count calls, _sum seconds
    breaker_state{provider}                 0 closed, 1 half-open, 2 open
    quota_remaining{provider, period}       period: month | day; only once reported
    quota_limit{provider, period}
    budget_requests_used{provider}          metered providers: this month, retries included
    budget_requests_left{provider}          what the pacing may still spend this month
    budget_exhaustion_timestamp_seconds{provider}  projected, at this month's pace; absent
                                            while the budget lasts the month
    price_jumps_held_total{provider}        prices held by the jump guard
    prices_held{provider, pair}             1 while a jump awaits confirmation
    sources_disagreeing{pair, first, second}  percent apart, while beyond the limit
    journal_rows_written_total              quotes written to the journal's database
    journal_write_failures_total            journal writes that failed (each retried)
    journal_rows_dropped_total              quotes dropped unwritten (the queue was full)
    journal_queue_length                    quotes waiting to be written
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Literal, Protocol

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector

from engine.journal.writer import JournalStats
from engine.rates.breaker import BreakerState
from engine.rates.metrics import RatesMetrics
from providers.base import QuotaReportingProtocol

PREFIX = "crypto_helper"
NO_STEP = "none"

Outcome = Literal["ok", "error", "unhandled"]

# Handling an update includes Telegram API calls and, on a cache miss, an upstream fetch
# with retries, hence the long tail.
STEP_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

BREAKER_VALUES: Mapping[BreakerState, int] = {
    BreakerState.CLOSED: 0,
    BreakerState.HALF_OPEN: 1,
    BreakerState.OPEN: 2,
}


class RatesMetricsSourceProtocol(Protocol):
    """Where the rates counters come from (:class:`~engine.rates.service.RateService`)."""

    def metrics(self) -> RatesMetrics: ...


def split_state(state: str | None) -> tuple[str, str]:
    """``"exchange:amount"`` → ``("exchange", "amount")``; no state → ``("none", "none")``."""
    if not state:
        return NO_STEP, NO_STEP
    flow, sep, step = state.partition(":")
    return (flow, step) if sep else (NO_STEP, flow)


class RatesCollector(Collector):
    """Reads :meth:`RateService.metrics` and the providers' quotas at each scrape.

    Args:
        rates: the rate service.
        providers: name → provider; those implementing
            :class:`~providers.base.QuotaReportingProtocol` export their quota.
    """

    def __init__(self, rates: RatesMetricsSourceProtocol, providers: Mapping[str, object]) -> None:
        self._rates = rates
        self._providers = providers

    def collect(self) -> Iterator[Metric]:
        m = self._rates.metrics()
        yield from _cache_families(m)
        yield from _upstream_families(m)
        yield from _quota_families(self._providers)
        yield from _guard_families(m)


def _cache_families(m: RatesMetrics) -> Iterator[Metric]:
    stats = m.cache
    for name, doc, value in (
        ("hits", "Fresh reads of the rates cache.", stats.hits),
        ("misses", "Reads of the rates cache that found nothing servable.", stats.misses),
        ("stale_hits", "Stale reads served while a refresh runs.", stats.stale_hits),
        ("evictions", "Cache entries dropped for room.", stats.evictions),
    ):
        yield CounterMetricFamily(f"{PREFIX}_cache_{name}", doc, value=value)


def _upstream_families(m: RatesMetrics) -> Iterator[Metric]:
    calls = CounterMetricFamily(
        f"{PREFIX}_upstream_calls", "Calls to a rates provider.", labels=["provider"]
    )
    errors = CounterMetricFamily(
        f"{PREFIX}_upstream_errors", "Failed calls to a rates provider.", labels=["provider"]
    )
    latency = SummaryMetricFamily(
        f"{PREFIX}_upstream_latency_seconds",
        "Time spent in calls to a rates provider.",
        labels=["provider"],
    )
    for name, stats in m.upstream.items():
        calls.add_metric([name], stats.calls)
        errors.add_metric([name], stats.errors)
        latency.add_metric([name], count_value=stats.calls, sum_value=stats.latency_seconds_sum)
    breaker = GaugeMetricFamily(
        f"{PREFIX}_breaker_state",
        "Circuit breaker of a provider: 0 closed, 1 half-open, 2 open.",
        labels=["provider"],
    )
    for name, state in m.breakers.items():
        breaker.add_metric([name], BREAKER_VALUES[state])
    yield from (calls, errors, latency, breaker)


def _quota_families(providers: Mapping[str, object]) -> Iterator[Metric]:
    remaining = GaugeMetricFamily(
        f"{PREFIX}_quota_remaining",
        "Requests left as the provider last reported.",
        labels=["provider", "period"],
    )
    limit = GaugeMetricFamily(
        f"{PREFIX}_quota_limit",
        "Request allowance of the provider's plan as last reported.",
        labels=["provider", "period"],
    )
    for name, provider in providers.items():
        if not isinstance(provider, QuotaReportingProtocol):
            continue
        quota = provider.quota
        for family, period, value in (
            (remaining, "month", quota.remaining_month),
            (remaining, "day", quota.remaining_day),
            (limit, "month", quota.limit_month),
            (limit, "day", quota.limit_day),
        ):
            if value is not None:
                family.add_metric([name, period], value)
    yield from (remaining, limit)


def _guard_families(m: RatesMetrics) -> Iterator[Metric]:
    used = GaugeMetricFamily(
        f"{PREFIX}_budget_requests_used",
        "Requests to a metered provider this month (retries included; the vendor's "
        "count when higher).",
        labels=["provider"],
    )
    left = GaugeMetricFamily(
        f"{PREFIX}_budget_requests_left",
        "Requests the pacing may still spend this month.",
        labels=["provider"],
    )
    exhaustion = GaugeMetricFamily(
        f"{PREFIX}_budget_exhaustion_timestamp_seconds",
        "When the monthly budget would be used up at this month's pace (absent: it lasts).",
        labels=["provider"],
    )
    for status in m.budgets:
        used.add_metric([status.provider], status.used)
        left.add_metric([status.provider], status.left)
        if status.projected_exhaustion is not None:
            exhaustion.add_metric([status.provider], status.projected_exhaustion.timestamp())
    held_total = CounterMetricFamily(
        f"{PREFIX}_price_jumps_held",
        "Prices held by the jump guard until confirmed.",
        labels=["provider"],
    )
    for name, count in m.held_total.items():
        held_total.add_metric([name], count)
    held = GaugeMetricFamily(
        f"{PREFIX}_prices_held",
        "1 while a provider's price jump awaits confirmation.",
        labels=["provider", "pair"],
    )
    for hold in m.holds:
        held.add_metric([hold.provider, str(hold.pair)], 1)
    apart = GaugeMetricFamily(
        f"{PREFIX}_sources_disagreeing",
        "Percent between two sources of a pair, while beyond guard.max_disagreement_percent.",
        labels=["pair", "first", "second"],
    )
    for gap in m.disagreements:
        apart.add_metric([str(gap.pair), gap.first, gap.second], float(gap.percent))
    yield from (used, left, exhaustion, held_total, held, apart)


class JournalCollector(Collector):
    """Reads the journal writer's counters at each scrape."""

    def __init__(self, stats: Callable[[], JournalStats]) -> None:
        self._stats = stats

    def collect(self) -> Iterator[Metric]:
        stats = self._stats()
        for name, doc, value in (
            ("rows_written", "Quotes written to the journal's database.", stats.written),
            ("write_failures", "Journal writes that failed (each is retried).", stats.failures),
            (
                "rows_dropped",
                "Quotes dropped unwritten: the journal queue was full.",
                stats.dropped,
            ),
        ):
            yield CounterMetricFamily(f"{PREFIX}_journal_{name}", doc, value=value)
        yield GaugeMetricFamily(
            f"{PREFIX}_journal_queue_length",
            "Quotes waiting to be written to the journal.",
            value=stats.waiting,
        )


class BotMetrics:
    """The bot's metrics and the registry they live in.

    Args:
        process: also register the process collector (memory, CPU, open files).

    Each instance has its own registry, so tests and several apps in one process never
    clash over metric names.
    """

    def __init__(self, *, process: bool = True) -> None:
        # auto_describe: a family registered twice fails here, not as a broken scrape.
        self.registry = CollectorRegistry(auto_describe=True)
        self._updates = Counter(
            f"{PREFIX}_updates",
            "Telegram updates handled, by update type and outcome.",
            ["type", "outcome"],
            registry=self.registry,
        )
        self._step_seconds = Histogram(
            f"{PREFIX}_step_duration_seconds",
            "Time to handle an update, by the dialog step it arrived at.",
            ["flow", "step"],
            buckets=STEP_BUCKETS,
            registry=self.registry,
        )
        self._skipped = Counter(
            f"{PREFIX}_updates_skipped",
            "Updates skipped unread: invalid (aiogram's models reject it) or malformed "
            "(not an update).",
            ["reason"],
            registry=self.registry,
        )
        self._quotes = Counter(
            f"{PREFIX}_quotes",
            "Quotes computed, by direction.",
            ["give", "get"],
            registry=self.registry,
        )
        # Labelled children, looked up once (``labels()`` validates and locks on each call).
        # Bounded: update types × outcomes, and the flows' states.
        self._update_counters: dict[tuple[str, str], Counter] = {}
        self._step_timers: dict[str | None, Histogram] = {}
        self._rates: RatesCollector | None = None
        if process:
            ProcessCollector(registry=self.registry)

    def observe_update(
        self, kind: str, outcome: Outcome, seconds: float, step: str | None = None
    ) -> None:
        """Count one handled update and time it.

        Args:
            kind: the update type (``message``, ``callback_query``…).
            outcome: ``ok``, ``error`` (the handler raised) or ``unhandled`` (no handler).
            seconds: how long handling took.
            step: the state the update arrived in, ``"<flow>:<step>"``, or None.
        """
        counter = self._update_counters.get((kind, outcome))
        if counter is None:
            counter = self._update_counters[kind, outcome] = self._updates.labels(kind, outcome)
        counter.inc()
        timer = self._step_timers.get(step)
        if timer is None:
            timer = self._step_timers[step] = self._step_seconds.labels(*split_state(step))
        timer.observe(seconds)

    def count_skipped_update(self, reason: str, count: int = 1) -> None:
        """Count ``count`` updates skipped unread (see :mod:`engine.bot.updates`)."""
        self._skipped.labels(reason).inc(count)

    def count_quote(self, give: str, get: str) -> None:
        """Count one quote given for ``give`` → ``get`` (called after each quote)."""
        self._quotes.labels(give, get).inc()

    def watch_rates(
        self, rates: RatesMetricsSourceProtocol, providers: Mapping[str, object]
    ) -> None:
        """Export the rate service's counters and the providers' quotas from now on.

        Raises:
            ValueError: rates are already watched by this instance.
        """
        if self._rates is not None:
            raise ValueError("BotMetrics already exports a rate service's metrics")
        self._rates = RatesCollector(rates, providers)
        self.registry.register(self._rates)

    def watch_journal(self, stats: Callable[[], JournalStats]) -> None:
        """Export the journal writer's counters (``stats`` is read at each scrape)."""
        self.registry.register(JournalCollector(stats))

    def render(self) -> bytes:
        """Every metric in the Prometheus text format."""
        return generate_latest(self.registry)
