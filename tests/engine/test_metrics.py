"""BotMetrics: its own registry, update/step/quote metrics, rates counters read at scrape time."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from provider_fakes import Provider, single_source

from engine.definitions import load_definitions
from engine.metrics import BotMetrics, split_state
from engine.rates.breaker import BreakerSettings
from engine.rates.errors import RatesUnavailableError
from engine.rates.offline import create_offline_rates
from engine.rates.service import RateService
from providers.base import QuotaInfo
from providers.errors import ProviderUnavailableError

ROOT = Path(__file__).resolve().parents[2]
CONFIG = single_source(load_definitions(ROOT / "config.yaml").config)  # no fallbacks


def samples(metrics: BotMetrics) -> dict[str, list[Sample]]:
    """Family name → its samples, parsed back from the exposition text."""
    text = metrics.render().decode()
    return {f.name: f.samples for f in text_string_to_metric_families(text)}


def value(metrics: BotMetrics, sample: str, **labels: str) -> float:
    found = [
        s.value
        for family in samples(metrics).values()
        for s in family
        if s.name == sample and s.labels == labels
    ]
    assert len(found) == 1, f"{sample}{labels}: {found}"
    return found[0]


class MeteredProvider(Provider):
    def __init__(self, name: str, rates: Mapping[str, str], quota: QuotaInfo) -> None:
        super().__init__(name, rates)
        self._quota = quota

    @property
    def quota(self) -> QuotaInfo:
        return self._quota


RAPIRA = {"USDT/RUB": "85.30"}
APILAYER = {f"{c}/RUB": "10" for c in ("USD", "EUR", "THB", "AED", "ZAR", "IDR")}
QUOTA = QuotaInfo(
    remaining_month=97,
    remaining_day=12,
    limit_month=100,
    updated_at=datetime(2025, 1, 1, tzinfo=UTC),
)


def test_split_state() -> None:
    assert split_state("exchange:amount") == ("exchange", "amount")
    assert split_state(None) == ("none", "none")
    assert split_state("") == ("none", "none")
    assert split_state("lonely") == ("none", "lonely")


def test_updates_steps_and_quotes_are_counted() -> None:
    metrics = BotMetrics(process=False)
    metrics.observe_update("message", "ok", 0.02, "exchange:amount")
    metrics.observe_update("message", "ok", 0.3, "exchange:amount")
    metrics.observe_update("callback_query", "error", 1.5, "exchange:source")
    metrics.observe_update("message", "unhandled", 0.001, None)
    metrics.count_quote("RUB", "USDT")
    metrics.count_quote("RUB", "USDT")
    metrics.count_quote("USDT", "IDR")

    updates = "crypto_helper_updates_total"
    assert value(metrics, updates, type="message", outcome="ok") == 2
    assert value(metrics, updates, type="callback_query", outcome="error") == 1
    assert value(metrics, updates, type="message", outcome="unhandled") == 1
    step = "crypto_helper_step_duration_seconds"
    assert value(metrics, f"{step}_count", flow="exchange", step="amount") == 2
    assert value(metrics, f"{step}_sum", flow="exchange", step="amount") == pytest.approx(0.32)
    assert value(metrics, f"{step}_bucket", flow="exchange", step="amount", le="0.025") == 1
    assert value(metrics, f"{step}_bucket", flow="exchange", step="amount", le="0.5") == 2
    assert value(metrics, f"{step}_count", flow="exchange", step="source") == 1
    assert value(metrics, f"{step}_count", flow="none", step="none") == 1
    assert value(metrics, "crypto_helper_quotes_total", give="RUB", get="USDT") == 2
    assert value(metrics, "crypto_helper_quotes_total", give="USDT", get="IDR") == 1


def test_each_instance_has_its_own_registry() -> None:
    first, second = BotMetrics(), BotMetrics()
    first.count_quote("RUB", "USDT")
    assert value(first, "crypto_helper_quotes_total", give="RUB", get="USDT") == 1
    assert samples(second)["crypto_helper_quotes"] == []


@pytest.mark.skipif(sys.platform != "linux", reason="the process collector reads /proc")
def test_process_memory_is_exported() -> None:
    assert value(BotMetrics(), "process_resident_memory_bytes") > 0
    assert "process_resident_memory_bytes" not in samples(BotMetrics(process=False))


async def test_rates_counters_are_read_from_the_service_at_scrape_time() -> None:
    now = [1000.0]
    rapira, apilayer = Provider("rapira", RAPIRA), MeteredProvider("apilayer", APILAYER, QUOTA)
    service = RateService(
        CONFIG,
        {"rapira": rapira, "apilayer": apilayer},
        lambda: now[0],
        breaker=BreakerSettings(failure_threshold=1, open_seconds=30),
    )
    metrics = BotMetrics(process=False)
    metrics.watch_rates(service, {"rapira": rapira, "apilayer": apilayer})

    assert value(metrics, "crypto_helper_cache_misses_total") == 0
    await service.get_rate("RUB", "USDT")  # miss, fetch rapira
    await service.get_rate("RUB", "USDT")  # hit
    await service.get_rate("USDT", "USD")  # two legs: hit + miss, fetch apilayer
    now[0] += CONFIG.cache.ttl_seconds + 1
    await service.get_rate("RUB", "USDT")  # stale: served, background refresh
    await service.refresh("rapira")  # joins that refresh
    rapira.error = ProviderUnavailableError("rapira", "down (test)")
    now[0] += CONFIG.cache.ttl_seconds + CONFIG.cache.max_stale_seconds + 1
    with pytest.raises(RatesUnavailableError, match="nothing usable cached"):
        await service.get_rate("RUB", "USDT")  # expired: miss, fetch fails, circuit opens

    m = service.metrics()
    assert value(metrics, "crypto_helper_cache_hits_total") == m.cache.hits == 2
    assert value(metrics, "crypto_helper_cache_misses_total") == m.cache.misses == 3
    assert value(metrics, "crypto_helper_cache_stale_hits_total") == m.cache.stale_hits == 1
    assert value(metrics, "crypto_helper_cache_evictions_total") == 0
    calls = m.upstream["rapira"].calls
    assert value(metrics, "crypto_helper_upstream_calls_total", provider="rapira") == calls
    assert calls == 3
    assert value(metrics, "crypto_helper_upstream_errors_total", provider="rapira") == 1
    assert value(metrics, "crypto_helper_upstream_calls_total", provider="apilayer") == 1
    assert value(metrics, "crypto_helper_upstream_errors_total", provider="apilayer") == 0
    latency = "crypto_helper_upstream_latency_seconds"
    assert value(metrics, f"{latency}_count", provider="rapira") == calls
    assert value(metrics, f"{latency}_sum", provider="rapira") == 0  # the clock stood still
    assert value(metrics, "crypto_helper_breaker_state", provider="rapira") == 2  # open
    assert value(metrics, "crypto_helper_breaker_state", provider="apilayer") == 0  # closed
    now[0] += 31
    assert value(metrics, "crypto_helper_breaker_state", provider="rapira") == 1  # half-open
    assert (
        value(metrics, "crypto_helper_quota_remaining", provider="apilayer", period="month") == 97
    )
    assert value(metrics, "crypto_helper_quota_remaining", provider="apilayer", period="day") == 12
    assert value(metrics, "crypto_helper_quota_limit", provider="apilayer", period="month") == 100
    # unknown values are absent, not zero; a provider without a quota exports none
    limits = samples(metrics)["crypto_helper_quota_limit"]
    assert [s.labels for s in limits] == [{"provider": "apilayer", "period": "month"}]
    assert all(
        s.labels["provider"] == "apilayer"
        for s in samples(metrics)["crypto_helper_quota_remaining"]
    )
    await service.close()


async def test_rates_of_the_offline_service() -> None:
    service = create_offline_rates(CONFIG)
    metrics = BotMetrics(process=False)
    metrics.watch_rates(service, {})
    await service.snapshot()
    assert value(metrics, "crypto_helper_upstream_calls_total", provider="static") == 1
    assert value(metrics, "crypto_helper_breaker_state", provider="static") == 0
    assert samples(metrics)["crypto_helper_quota_remaining"] == []
    await service.close()


def test_rates_are_watched_once() -> None:
    metrics = BotMetrics(process=False)
    service = create_offline_rates(CONFIG)
    metrics.watch_rates(service, {})
    with pytest.raises(ValueError, match="already exports"):
        metrics.watch_rates(service, {})


def test_every_family_is_exported() -> None:
    metrics = BotMetrics()
    metrics.watch_rates(create_offline_rates(CONFIG), {})
    metrics.observe_update("message", "ok", 0.1, None)
    metrics.count_quote("RUB", "USDT")
    names = set(samples(metrics))
    expected = {
        "crypto_helper_updates",
        "crypto_helper_step_duration_seconds",
        "crypto_helper_quotes",
        "crypto_helper_cache_hits",
        "crypto_helper_cache_misses",
        "crypto_helper_cache_stale_hits",
        "crypto_helper_cache_evictions",
        "crypto_helper_upstream_calls",
        "crypto_helper_upstream_errors",
        "crypto_helper_upstream_latency_seconds",
        "crypto_helper_breaker_state",
        "crypto_helper_quota_remaining",
        "crypto_helper_quota_limit",
    }
    if sys.platform == "linux":
        expected.add("process_resident_memory_bytes")
    assert expected <= names, expected - names
