"""Health endpoints over a real aiohttp server: liveness, the readiness rule, /metrics."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families
from provider_fakes import Provider, single_source

from engine.definitions import load_definitions
from engine.health import RatesStatusProtocol, create_health_app, setup_health_routes
from engine.metrics import BotMetrics
from engine.rates.breaker import BreakerSettings
from engine.rates.errors import RatesUnavailableError
from engine.rates.offline import create_offline_rates
from engine.rates.service import DirectionRate, RateService
from providers.base import QuotaInfo
from providers.errors import ProviderUnavailableError

ROOT = Path(__file__).resolve().parents[2]
# The shipped config without fallbacks: these tests are about health, not fallbacks
# (tests/engine/rates/test_rates_fallback.py).
CONFIG = single_source(load_definitions(ROOT / "config.yaml").config)
TTL = CONFIG.cache.ttl_seconds
MAX_STALE = CONFIG.cache.max_stale_seconds


class DownCache:
    """A service whose cache cannot be read (Redis down), otherwise the real one."""

    budgets = None

    def __init__(self, service: RateService) -> None:
        self.service = service

    def metrics(self) -> Any:
        return self.service.metrics()

    def route(self, give: str, get: str) -> Any:
        return self.service.route(give, get)

    async def cached_snapshot(self) -> list[DirectionRate]:
        raise ConnectionError("redis: connection refused")


def status(service: RateService) -> RatesStatusProtocol:
    return service


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class MeteredProvider(Provider):
    quota = QuotaInfo(
        remaining_month=97,
        remaining_day=3,
        limit_month=100,
        updated_at=datetime(2025, 5, 1, 12, 0, tzinfo=UTC),
    )


FIATS = ("USD", "EUR", "THB", "AED", "ZAR", "IDR")


async def reachable() -> bool:
    return True


async def unreachable() -> bool:
    return False


@asynccontextmanager
async def running(app: web.Application) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(app)) as client:
        yield client


@asynccontextmanager
async def health(
    service: RateService,
    *,
    providers: Mapping[str, object] | None = None,
    storage_ping: Any = reachable,
    metrics: BotMetrics | None = None,
    ping_timeout: float = 2.0,
) -> AsyncIterator[TestClient]:
    app = create_health_app(
        rates=status(service),
        metrics=metrics or BotMetrics(process=False),
        storage_ping=storage_ping,
        providers=providers or {},
        ping_timeout=ping_timeout,
    )
    async with running(app) as client:
        yield client
    await service.close()


async def ready(client: TestClient) -> tuple[int, dict[str, Any]]:
    response = await client.get("/health/ready")
    return response.status, await response.json()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def rapira() -> Provider:
    return Provider("rapira", {"USDT/RUB": "85.30"})


@pytest.fixture
def apilayer() -> MeteredProvider:
    return MeteredProvider("apilayer", {f"{c}/RUB": "10" for c in FIATS})


@pytest.fixture
def live_service(clock: Clock, rapira: Provider, apilayer: MeteredProvider) -> RateService:
    """config.yaml's providers (faked); the first failure opens a circuit."""
    return RateService(
        CONFIG,
        {"rapira": rapira, "apilayer": apilayer},
        clock,
        breaker=BreakerSettings(failure_threshold=1, open_seconds=30),
    )


# -- liveness ----------------------------------------------------------------------------


async def test_live_is_ok_whatever_the_rates() -> None:
    async with health(create_offline_rates(CONFIG), storage_ping=unreachable) as client:
        response = await client.get("/health/live")
        assert response.status == 200
        assert await response.json() == {"status": "ok"}


# -- readiness with the offline (static) provider ---------------------------------------


async def test_offline_not_ready_before_the_first_fetch_then_ready(clock: Clock) -> None:
    service = create_offline_rates(CONFIG, clock)
    async with health(service) as client:
        code, body = await ready(client)
        assert code == 503
        assert body["status"] == "unavailable"
        assert body["reasons"] == [
            "no direction can be served: nothing cached, no provider available"
        ]
        assert body["storage"] == {"reachable": True}
        assert body["providers"] == [
            {
                "name": "static",
                "breaker": "closed",
                "available": False,
                "calls": 0,
                "errors": 0,
                "quota": None,
            }
        ]
        assert len(body["directions"]) == 14
        assert all(not d["cached"] and not d["servable"] for d in body["directions"])
        # the probe fetched nothing and read the cache without counting
        assert service.metrics().upstream["static"].calls == 0
        assert service.metrics().cache.misses == 0

        await service.snapshot()
        clock.now += 12.34
        code, body = await ready(client)
        assert code == 200
        assert body["status"] == "ready"
        assert body["reasons"] == []
        assert body["providers"][0]["available"] is True
        assert body["directions"][0] == {
            "give": "RUB",
            "get": "USDT",
            "pair": "USDT/RUB",
            "cached": True,
            "age_seconds": 12.3,
            "stale": False,
            "sources": ["static"],
            "servable": True,
        }
        assert all(d["cached"] for d in body["directions"])
        assert service.metrics().upstream["static"].calls == 1


# -- readiness with live providers (faked) ----------------------------------------------


async def test_every_provider_failing_with_nothing_cached_is_503(
    live_service: RateService, rapira: Provider, apilayer: Provider
) -> None:
    rapira.error = ProviderUnavailableError("rapira", "connection refused (test)")
    apilayer.error = ProviderUnavailableError("apilayer", "HTTP 503 (test)")
    await live_service.snapshot()
    async with health(live_service) as client:
        code, body = await ready(client)
        assert code == 503
        assert [
            (p["name"], p["breaker"], p["available"], p["calls"], p["errors"])
            for p in body["providers"]
        ] == [("rapira", "open", False, 1, 1), ("apilayer", "open", False, 1, 1)]
        assert not any(d["servable"] for d in body["directions"])
    assert (rapira.calls, apilayer.calls) == (1, 1)  # the probe called nobody


async def test_a_provider_that_never_succeeded_is_not_available(
    clock: Clock, rapira: Provider, apilayer: Provider
) -> None:
    # the default threshold (5): one failure leaves the circuit closed
    service = RateService(CONFIG, {"rapira": rapira, "apilayer": apilayer}, clock)
    rapira.error = ProviderUnavailableError("rapira", "down (test)")
    apilayer.error = ProviderUnavailableError("apilayer", "down (test)")
    await service.snapshot()
    async with health(service) as client:
        code, body = await ready(client)
        assert code == 503
        assert [p["breaker"] for p in body["providers"]] == ["closed", "closed"]


async def test_one_direction_cached_is_enough(
    live_service: RateService, apilayer: Provider
) -> None:
    apilayer.error = ProviderUnavailableError("apilayer", "down (test)")
    await live_service.snapshot()
    async with health(live_service) as client:
        code, body = await ready(client)
        assert code == 200
        servable = [(d["give"], d["get"]) for d in body["directions"] if d["servable"]]
        assert servable == [("RUB", "USDT"), ("USDT", "RUB")]


async def test_stale_rates_are_served_and_flagged(live_service: RateService, clock: Clock) -> None:
    await live_service.snapshot()
    clock.now += TTL + 1  # rapira's TTL; apilayer's is stretched to its monthly budget
    async with health(live_service) as client:
        code, body = await ready(client)
        assert code == 200
        first = body["directions"][0]
        assert (first["pair"], first["cached"], first["stale"]) == ("USDT/RUB", True, True)
        assert first["age_seconds"] == TTL + 1


async def test_expired_rates_with_proven_providers_are_servable(
    live_service: RateService, clock: Clock, rapira: Provider
) -> None:
    await live_service.snapshot()
    clock.now += 10 * 24 * 3600  # everything expired, nobody asked since
    async with health(live_service) as client:
        code, body = await ready(client)
        assert code == 200
        assert not any(d["cached"] for d in body["directions"])
        assert all(d["servable"] for d in body["directions"])

        # then rapira fails on the next quote: its circuit opens
        rapira.error = ProviderUnavailableError("rapira", "down (test)")
        with pytest.raises(RatesUnavailableError):
            await live_service.get_rate("RUB", "USDT")
        code, body = await ready(client)
        assert code == 200  # apilayer alone still serves RUB→USD and the like
        servable = {(d["give"], d["get"]) for d in body["directions"] if d["servable"]}
        assert ("RUB", "USD") in servable
        assert ("RUB", "USDT") not in servable
        assert ("USDT", "USD") not in servable  # crossed through rapira's USDT/RUB


async def test_quota_of_a_metered_provider(
    live_service: RateService, rapira: Provider, apilayer: MeteredProvider
) -> None:
    await live_service.snapshot()
    providers = {"rapira": rapira, "apilayer": apilayer}
    async with health(live_service, providers=providers) as client:
        _, body = await ready(client)
        quotas = {p["name"]: p["quota"] for p in body["providers"]}
        assert quotas == {
            "rapira": None,
            "apilayer": {
                "remaining_month": 97,
                "remaining_day": 3,
                "limit_month": 100,
                "limit_day": None,
                "updated_at": "2025-05-01T12:00:00+00:00",
            },
        }


# -- storage ----------------------------------------------------------------------------


async def test_storage_unreachable_is_503_even_with_rates() -> None:
    service = create_offline_rates(CONFIG)
    await service.snapshot()
    async with health(service, storage_ping=unreachable) as client:
        code, body = await ready(client)
        assert code == 503
        assert body["storage"] == {"reachable": False}
        assert body["reasons"] == ["storage unreachable"]


async def test_a_failing_or_hanging_ping_counts_as_unreachable(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken() -> bool:
        raise ConnectionError("redis: connection refused")

    async def hanging() -> bool:
        await asyncio.sleep(10)
        return True

    for ping, cause in [(broken, "connection refused"), (hanging, "TimeoutError")]:
        service = create_offline_rates(CONFIG)
        await service.snapshot()
        caplog.clear()
        async with health(service, storage_ping=ping, ping_timeout=0.05) as client:
            code, body = await ready(client)
        assert (code, body["storage"]) == (503, {"reachable": False})
        [record] = [r for r in caplog.records if r.name == "engine.health"]
        assert record.levelno == logging.WARNING
        assert "storage ping failed" in record.getMessage()
        assert cause in record.getMessage()


# -- /metrics ---------------------------------------------------------------------------


async def test_metrics_endpoint(
    live_service: RateService, rapira: Provider, apilayer: MeteredProvider
) -> None:
    metrics = BotMetrics()
    metrics.observe_update("callback_query", "ok", 0.2, "exchange:source")
    metrics.count_quote("RUB", "USDT")
    await live_service.get_rate("RUB", "USDT")
    providers = {"rapira": rapira, "apilayer": apilayer}
    async with health(live_service, providers=providers, metrics=metrics) as client:
        response = await client.get("/metrics")
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = await response.text()
    values = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert (
        values[("crypto_helper_updates_total", (("outcome", "ok"), ("type", "callback_query")))]
        == 1
    )
    assert (
        values[
            (
                "crypto_helper_step_duration_seconds_count",
                (("flow", "exchange"), ("step", "source")),
            )
        ]
        == 1
    )
    assert values[("crypto_helper_quotes_total", (("get", "USDT"), ("give", "RUB")))] == 1
    assert values[("crypto_helper_cache_misses_total", ())] == 1
    assert values[("crypto_helper_upstream_calls_total", (("provider", "rapira"),))] == 1
    assert values[("crypto_helper_upstream_calls_total", (("provider", "apilayer"),))] == 0
    assert values[("crypto_helper_breaker_state", (("provider", "rapira"),))] == 0
    assert (
        values[("crypto_helper_quota_remaining", (("period", "month"), ("provider", "apilayer")))]
        == 97
    )
    assert values[("process_resident_memory_bytes", ())] > 0


# -- composition ------------------------------------------------------------------------


async def test_routes_join_an_application_of_the_callers() -> None:
    async def webhook(request: web.Request) -> web.Response:
        return web.Response(text="telegram")

    app = web.Application()
    app.router.add_post("/telegram/webhook", webhook)
    service = create_offline_rates(CONFIG)
    metrics = BotMetrics(process=False)
    setup_health_routes(
        app, rates=status(service), metrics=metrics, storage_ping=reachable, providers={}
    )
    async with running(app) as client:
        assert (await client.post("/telegram/webhook")).status == 200
        assert (await client.get("/health/live")).status == 200
        assert (await client.get("/health/ready")).status == 503
        assert (await client.get("/metrics")).status == 200
    await service.close()
    # the rates collector is attached once per BotMetrics
    with pytest.raises(ValueError, match="already exports"):
        setup_health_routes(
            web.Application(),
            rates=status(service),
            metrics=metrics,
            storage_ping=reachable,
            providers={},
        )


async def test_an_unreadable_cache_is_503_not_a_crash(caplog: pytest.LogCaptureFixture) -> None:
    service = create_offline_rates(CONFIG)
    app = create_health_app(
        rates=DownCache(service),
        metrics=BotMetrics(process=False),
        storage_ping=reachable,
        providers={},
    )
    async with running(app) as client:
        code, body = await ready(client)
    assert code == 503
    assert body["reasons"] == ["rates cache unreadable: ConnectionError"]
    assert body["directions"] == []
    assert "reading the rates cache failed" in caplog.text
    await service.close()


async def test_metrics_token_guards_metrics_and_the_detailed_readiness(clock: Clock) -> None:
    service = create_offline_rates(CONFIG, clock)
    await service.snapshot()
    app = create_health_app(
        rates=status(service),
        metrics=BotMetrics(process=False),
        storage_ping=reachable,
        providers={},
        token="s3cret-token",
    )
    async with running(app) as client:
        assert (await client.get("/health/live")).status == 200  # the platform's probe
        response = await client.get("/metrics")
        assert response.status == 401 and response.headers["WWW-Authenticate"] == "Bearer"
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status == 401
        good = {"Authorization": "Bearer s3cret-token"}
        assert (await client.get("/metrics", headers=good)).status == 200
        bare = await client.get("/health/ready")
        assert bare.status == 200 and await bare.json() == {"status": "ready"}
        detailed = await client.get("/health/ready", headers=good)
        assert "directions" in await detailed.json()
    await service.close()
