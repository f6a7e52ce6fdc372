"""Health and metrics over HTTP: ``/health/live``, ``/health/ready``, ``/metrics``.

The routes go on an :class:`aiohttp.web.Application` of the caller's (webhook mode hosts the
Telegram webhook on the same one, see :func:`setup_health_routes`) or on a new one
(:func:`create_health_app`), served beside polling or the webhook.

Readiness, decided from the cache and the counters only (a probe never calls a provider):

* a provider is **available** when its circuit is not open (half-open lets the next call
  through) and at least one call to it has succeeded since start;
* a direction is **servable** when its rate is cached and usable (fresh, or stale within
  its limit) from some provider of each leg, or when each leg has an available provider;
* ``/health/ready`` answers **200** when the storage answers its ping and at least one
  direction is servable, else **503**.

The journal is reported (``journal``: ``ok``, or ``degraded`` with how many quotes wait
in memory and why) but never makes the bot unready: quotes are still shown while the
journal's database is away, and every replica shares that database, so a 503 would take
them all out of the load balancer for a fault quoting does not have. So are the definitions
(``definitions``: the short hash of the config, flows and templates serving, and the last
reload's time and result): a reload refused leaves the previous set serving.

So at start-up it answers 503 until the first rates are fetched (by the preloader, or the
first quote): nothing has been cached and no provider has proven it works. Platform health
checks (Railway) use ``/health/live``, which is 200 while the process runs.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from engine.journal.writer import JournalStats
from engine.metrics import BotMetrics, RatesMetricsSourceProtocol
from engine.rates.breaker import BreakerState
from engine.rates.budget import Budgets, BudgetStatus
from engine.rates.metrics import RatesMetrics
from engine.rates.routing import Route
from engine.rates.service import DirectionRate
from providers.base import QuotaInfo, QuotaReportingProtocol

logger = logging.getLogger("engine.health")

StoragePing = Callable[[], Awaitable[bool]]
JournalStatus = Callable[[], JournalStats]
# The definitions serving and the last reload (engine.reload.reloader.Reloader.status).
DefinitionsStatus = Callable[[], dict[str, Any]]


class RatesStatusProtocol(RatesMetricsSourceProtocol, Protocol):
    """What health needs from :class:`~engine.rates.service.RateService`."""

    def route(self, give: str, get: str) -> Route: ...

    @property
    def budgets(self) -> Budgets | None: ...

    async def cached_snapshot(self) -> Sequence[DirectionRate]:
        """Every direction's rate from the cache alone: no upstream call, no refresh."""
        ...


@dataclass(frozen=True, slots=True)
class ProviderHealth:
    name: str
    breaker: BreakerState
    calls: int
    errors: int
    available: bool
    quota: QuotaInfo | None  # None: the provider does not report a quota


@dataclass(frozen=True, slots=True)
class DirectionHealth:
    give: str
    get: str
    pair: str
    cached: bool
    age_seconds: float | None
    stale: bool | None
    sources: tuple[str, ...]
    servable: bool


@dataclass(frozen=True, slots=True)
class Readiness:
    """The outcome of a readiness check; see the module docstring for the rule."""

    storage: bool
    providers: tuple[ProviderHealth, ...]
    directions: tuple[DirectionHealth, ...]
    cache_error: str | None = None  # the cache could not be read (a shared store is down)
    budgets: tuple[BudgetStatus, ...] = ()
    guard: dict[str, Any] | None = None
    journal: JournalStats | None = None  # None: no journal wired
    definitions: dict[str, Any] | None = None  # the set's hash and the last reload

    @property
    def ready(self) -> bool:
        return not self.reasons()

    def reasons(self) -> list[str]:
        """Why it is not ready (empty when it is)."""
        reasons = [] if self.storage else ["storage unreachable"]
        if self.cache_error is not None:
            reasons.append(f"rates cache unreadable: {self.cache_error}")
        elif not any(d.servable for d in self.directions):
            reasons.append("no direction can be served: nothing cached, no provider available")
        return reasons

    def to_json(self) -> dict[str, Any]:
        return {
            "status": "ready" if self.ready else "unavailable",
            "reasons": self.reasons(),
            "storage": {"reachable": self.storage},
            "providers": [_provider_json(p) for p in self.providers],
            "directions": [_direction_json(d) for d in self.directions],
            "budgets": [_budget_json(b) for b in self.budgets],
            "guard": self.guard or {"held": [], "disagreements": []},
            "journal": self.journal.to_json() if self.journal else None,
            "definitions": self.definitions,
        }


def _budget_json(b: BudgetStatus) -> dict[str, Any]:
    return {
        "provider": b.provider,
        "month": b.month,
        "budget": b.budget,
        "target": b.target,
        "used": b.used,
        "left": b.left,
        "vendor_remaining": b.vendor_remaining,
        "projected_exhaustion": (
            b.projected_exhaustion.isoformat() if b.projected_exhaustion else None
        ),
    }


def _guard_json(metrics: RatesMetrics) -> dict[str, Any]:
    return {
        "held": [
            {
                "provider": h.provider,
                "pair": str(h.pair),
                "accepted": str(h.accepted),
                "held": str(h.candidate.close),
                "jump_percent": str(round(h.jump_percent, 2)),
            }
            for h in metrics.holds
        ],
        "disagreements": [
            {
                "pair": str(g.pair),
                g.first: str(g.first_close),
                g.second: str(g.second_close),
                "percent": str(round(g.percent, 2)),
            }
            for g in metrics.disagreements
        ],
    }


def _provider_json(p: ProviderHealth) -> dict[str, Any]:
    quota = None
    if p.quota is not None:
        q = p.quota
        quota = {
            "remaining_month": q.remaining_month,
            "remaining_day": q.remaining_day,
            "limit_month": q.limit_month,
            "limit_day": q.limit_day,
            "updated_at": q.updated_at.isoformat() if q.updated_at else None,
        }
    return {
        "name": p.name,
        "breaker": str(p.breaker),
        "available": p.available,
        "calls": p.calls,
        "errors": p.errors,
        "quota": quota,
    }


def _direction_json(d: DirectionHealth) -> dict[str, Any]:
    return {
        "give": d.give,
        "get": d.get,
        "pair": d.pair,
        "cached": d.cached,
        "age_seconds": None if d.age_seconds is None else round(d.age_seconds, 1),
        "stale": d.stale,
        "sources": list(d.sources),
        "servable": d.servable,
    }


def assess_readiness(
    metrics: RatesMetrics,
    snapshot: Sequence[DirectionRate],
    route: Callable[[str, str], Route],
    *,
    storage: bool,
    providers: Mapping[str, object],
) -> Readiness:
    """Apply the readiness rule to a cache snapshot and the rates counters (pure)."""
    provider_health = []
    for name, state in metrics.breakers.items():
        stats = metrics.upstream.get(name)
        calls, errors = (stats.calls, stats.errors) if stats else (0, 0)
        instance = providers.get(name)
        provider_health.append(
            ProviderHealth(
                name=name,
                breaker=state,
                calls=calls,
                errors=errors,
                available=state is not BreakerState.OPEN and calls > errors,
                quota=instance.quota if isinstance(instance, QuotaReportingProtocol) else None,
            )
        )
    available = {p.name for p in provider_health if p.available}
    directions = []
    for item in snapshot:
        rate = item.rate
        legs = route(item.give, item.get).legs
        directions.append(
            DirectionHealth(
                give=item.give,
                get=item.get,
                pair=str(item.display),
                cached=rate is not None,
                age_seconds=rate.age_seconds if rate else None,
                stale=rate.stale if rate else None,
                sources=rate.sources if rate else (),
                servable=rate is not None or all(available & set(leg.providers) for leg in legs),
            )
        )
    return Readiness(storage, tuple(provider_health), tuple(directions))


class _HealthRoutes:
    def __init__(
        self,
        rates: RatesStatusProtocol,
        metrics: BotMetrics,
        storage_ping: StoragePing,
        providers: Mapping[str, object],
        ping_timeout: float,
        token: str | None = None,
        journal: JournalStatus | None = None,
        definitions: DefinitionsStatus | None = None,
    ) -> None:
        self._token = token or None
        self._journal = journal
        self._definitions = definitions
        self._rates = rates
        self._metrics = metrics
        self._storage_ping = storage_ping
        self._providers = providers
        self._ping_timeout = ping_timeout

    async def live(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    def _authorised(self, request: web.Request) -> bool:
        if self._token is None:
            return True
        given = request.headers.get("Authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {self._token}".encode())

    async def ready(self, request: web.Request) -> web.Response:
        readiness = await self.check()
        status = 200 if readiness.ready else 503
        if not self._authorised(request):  # the platform's probe still learns ready or not
            body = {"status": "ready" if readiness.ready else "unavailable"}
            return web.json_response(body, status=status)
        return web.json_response(readiness.to_json(), status=status)

    async def metrics(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.json_response(
                {"error": "send Authorization: Bearer <METRICS_TOKEN>"},
                status=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        return web.Response(
            body=self._metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    async def check(self) -> Readiness:
        storage = await self._ping()
        budgets: tuple[BudgetStatus, ...] = ()
        if self._rates.budgets is not None:
            try:
                budgets = tuple(await self._rates.budgets.status())
            except Exception as exc:  # a ledger read failing is no reason to crash a probe
                logger.warning("health: reading the budget ledger failed: %r", exc)
        metrics = self._rates.metrics()
        guard = _guard_json(metrics)
        journal = self._journal() if self._journal is not None else None
        definitions = self._definitions() if self._definitions is not None else None
        try:
            snapshot = await self._rates.cached_snapshot()
        except Exception as exc:  # a shared store (Redis) down: not ready, not a crash
            logger.warning("health: reading the rates cache failed: %r", exc)
            unread = assess_readiness(
                metrics, (), self._rates.route, storage=storage, providers=self._providers
            )
            return replace(
                unread,
                cache_error=type(exc).__name__,
                budgets=budgets,
                guard=guard,
                journal=journal,
                definitions=definitions,
            )
        readiness = assess_readiness(
            metrics, snapshot, self._rates.route, storage=storage, providers=self._providers
        )
        return replace(
            readiness, budgets=budgets, guard=guard, journal=journal, definitions=definitions
        )

    async def _ping(self) -> bool:
        try:
            async with asyncio.timeout(self._ping_timeout):
                return await self._storage_ping()
        except Exception as exc:  # any failure, timeout included, means "unreachable"
            logger.warning("health: storage ping failed: %r", exc)
            return False


def setup_health_routes(
    app: web.Application,
    *,
    rates: RatesStatusProtocol,
    metrics: BotMetrics,
    storage_ping: StoragePing,
    providers: Mapping[str, object],
    ping_timeout: float = 2.0,
    token: str | None = None,
    journal: JournalStatus | None = None,
    definitions: DefinitionsStatus | None = None,
) -> None:
    """Add ``GET /health/live``, ``/health/ready`` and ``/metrics`` to ``app``.

    With ``token`` (``METRICS_TOKEN``), ``/metrics`` and the detailed ``/health/ready``
    body need ``Authorization: Bearer <token>``; without it ``/metrics`` is 401 and
    ``/health/ready`` answers only its status. ``/health/live`` stays open.

    Also makes ``metrics`` export the rate service's counters and the providers' quotas
    (:meth:`BotMetrics.watch_rates`), so call it once per :class:`BotMetrics`.

    Args:
        app: an application not started yet (it may host other routes, e.g. the webhook).
        rates: the rate service.
        metrics: the bot's metrics, served at ``/metrics``.
        storage_ping: answers whether the FSM storage is reachable; an exception or no
            answer within ``ping_timeout`` seconds counts as unreachable.
        providers: provider name → instance, for their quotas (may be empty).
        journal: the journal writer's counters, shown under ``journal`` (and exported
            to ``/metrics``); None without a journal.
        definitions: the set of definitions serving (its hash) and the last reload's
            result, shown under ``definitions``; None leaves it out (null).
    """
    metrics.watch_rates(rates, providers)
    if journal is not None:
        metrics.watch_journal(journal)
    routes = _HealthRoutes(
        rates, metrics, storage_ping, providers, ping_timeout, token, journal, definitions
    )
    app.router.add_get("/health/live", routes.live)
    app.router.add_get("/health/ready", routes.ready)
    app.router.add_get("/metrics", routes.metrics)


def create_health_app(
    *,
    rates: RatesStatusProtocol,
    metrics: BotMetrics,
    storage_ping: StoragePing,
    providers: Mapping[str, object],
    ping_timeout: float = 2.0,
    token: str | None = None,
    journal: JournalStatus | None = None,
) -> web.Application:
    """A new application with the routes of :func:`setup_health_routes`."""
    app = web.Application()
    setup_health_routes(
        app,
        rates=rates,
        metrics=metrics,
        storage_ping=storage_ping,
        providers=providers,
        ping_timeout=ping_timeout,
        token=token,
        journal=journal,
    )
    return app
