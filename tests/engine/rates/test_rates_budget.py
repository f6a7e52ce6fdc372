"""Monthly budgets: the pacing policy, the gate, the ledgers, the service, and 30 restarts.

Wall clocks are FakeClocks set inside December 2026 (31 days), so "the month" is one
calendar month throughout; the monotonic clocks are separate FakeClocks. The Redis tests
use the real redis-server at ``REDIS_URL`` (any database) under a key prefix of their own,
whose keys alone the ``redis`` fixture deletes afterwards.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from rates_fakes import (
    APILAYER,
    CONFIG,
    RAPIRA,
    FakeClock,
    FakeProvider,
    MeteredConfig,
    make_config,
)
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis_scratch import REDIS_URL

from engine.config.models import AppConfig, BudgetConfig
from engine.rates.budget import (
    MONTH_SECONDS,
    BudgetExhaustedError,
    BudgetPolicy,
    Budgets,
    FileLedger,
    LedgerProtocol,
    MemoryLedger,
    Month,
    budget_policy,
)
from engine.rates.cache import FileQuoteStore
from engine.rates.errors import RatesUnavailableError
from engine.rates.preloader import Preloader
from engine.rates.redis_store import RedisLedger
from engine.rates.service import RateService
from engine.resources import create_rate_service
from providers.base import Pair, ProviderConfig, QuotaInfo, Quote, RequestCountingProtocol
from providers.errors import ProviderUnavailableError

NOWHERE = "redis://127.0.0.1:1/0"  # nothing listens on port 1

DEC_1 = datetime(2026, 12, 1, tzinfo=UTC).timestamp()
DAY = 86_400.0
MONTH = "2026-12"
CBR = {pair: Quote(pair, q.close, source="cbr") for pair, q in APILAYER.items()}


class CountingProvider(FakeProvider):
    """A fake that sends ``per_fetch`` HTTP requests per fetch, as one retrying would."""

    def __init__(self, name: str, quotes: Mapping[Pair, Quote], per_fetch: int = 1) -> None:
        super().__init__(name, quotes)
        self.per_fetch = per_fetch
        self.requests_sent = 0

    async def fetch(self, pairs: Sequence[Pair]) -> Mapping[Pair, Quote]:
        self.requests_sent += self.per_fetch
        return await super().fetch(pairs)


class Vendor:
    """A provider-like object reporting its quota, as APILayer does from its headers."""

    def __init__(self, remaining: int | None = None, updated_at: float | None = None) -> None:
        self.quota = QuotaInfo(
            remaining_month=remaining,
            updated_at=None if updated_at is None else datetime.fromtimestamp(updated_at, UTC),
        )


def fallback_config(budget: int | None = 100, **sections: Any) -> AppConfig:
    """Fiat pairs from apilayer, else cbr (as the shipped config.yaml routes them)."""
    providers = {
        "rapira": ProviderConfig(kind="rapira"),
        "apilayer": MeteredConfig(kind="apilayer", monthly_budget=budget),
        "cbr": ProviderConfig(kind="cbr"),
    }
    routing = {
        **CONFIG["routing"],
        "rules": [
            {"pairs": ["USDT/RUB"], "provider": "rapira", "price": "close"},
            {
                "pairs": ["USD/RUB", "EUR/RUB", "THB/RUB", "AED/RUB", "ZAR/RUB", "IDR/RUB"],
                "provider": ["apilayer", "cbr"],
                "price": "close",
            },
        ],
    }
    return make_config(providers=providers, routing=routing, **sections)


def budgets_of(
    config: AppConfig, ledger: LedgerProtocol, wall: FakeClock, vendor: Vendor | None = None
) -> Budgets:
    """The gate create_rate_service builds, on a fake wall clock."""
    policies = {
        name: policy
        for name, block in config.providers.items()
        if (policy := budget_policy(block, config.budget)) is not None
    }
    quotas = {} if vendor is None else {"apilayer": partial(getattr, vendor, "quota")}
    return Budgets(policies, ledger, wall, quotas)


def gate(
    ledger: LedgerProtocol,
    wall: FakeClock,
    vendor: Vendor | None = None,
    policy: BudgetPolicy | None = None,
) -> Budgets:
    quotas = {} if vendor is None else {"apilayer": partial(getattr, vendor, "quota")}
    return Budgets({"apilayer": policy or BudgetPolicy(100)}, ledger, wall, quotas)


# --- BudgetPolicy ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("budget", "target"), [(100, 90), (101, 90), (99, 89), (10, 9), (2, 1), (1, 1)]
)
def test_target_is_the_floor_of_use_percent_of_the_budget(budget: int, target: int) -> None:
    assert BudgetPolicy(budget).target == target


def test_target_follows_use_percent() -> None:
    assert BudgetPolicy(100, use_percent=Decimal("99.5")).target == 99
    assert BudgetPolicy(1000, use_percent=Decimal(100)).target == 1000


def test_interval_spreads_the_target_less_the_burst_over_30_days() -> None:
    assert BudgetPolicy(100).interval == MONTH_SECONDS / 87  # about 8.3 h
    assert BudgetPolicy(100, burst=10).interval == MONTH_SECONDS / 80
    assert BudgetPolicy(3).interval == MONTH_SECONDS  # target 2 ≤ burst: once a month


@pytest.mark.parametrize(
    ("share", "allowed"),
    [
        (-0.5, 3),
        (0.0, 3),
        (0.01, 3),
        (0.1, 12),
        (0.5, 48),
        (0.95, 88),
        (0.99, 90),
        (1.0, 90),
        (2.0, 90),
    ],
)
def test_allowance_is_pro_rata_plus_burst_capped_at_the_target(share: float, allowed: int) -> None:
    assert BudgetPolicy(100).allowance(share) == allowed


def test_policy_from_config() -> None:
    settings = BudgetConfig(use_percent=Decimal(80), burst=5, stop_below_remaining=10)
    policy = budget_policy(MeteredConfig(kind="apilayer", monthly_budget=200), settings)
    assert policy == BudgetPolicy(200, Decimal(80), 5, 10)
    assert policy.target == 160
    assert budget_policy(MeteredConfig(kind="apilayer")) is None
    assert budget_policy(ProviderConfig(kind="rapira")) is None


def test_month_is_the_utc_calendar_month() -> None:
    month = Month.of(DEC_1 + 10 * DAY)
    assert (month.key, month.start, month.end) == (MONTH, DEC_1, DEC_1 + 31 * DAY)
    assert month.share(DEC_1 + 15.5 * DAY) == 0.5
    assert Month.of(DEC_1 - 1).key == "2026-11"
    assert Month.of(DEC_1 + 31 * DAY).key == "2027-01"


# --- Budgets: the gate -------------------------------------------------------------------


async def test_refuses_beyond_the_pro_rata_allowance() -> None:
    wall = FakeClock(DEC_1 + 10 * DAY)  # 10/31 of the month: ⌊90 × 10/31⌋ + 3 = 32
    ledger = MemoryLedger()
    budgets = gate(ledger, wall)
    await ledger.add("apilayer", MONTH, 31)
    assert await budgets.refusal("apilayer") is None
    await budgets.check("apilayer")
    await budgets.charge("apilayer", 1)
    assert (
        await budgets.refusal("apilayer") == "32 of 100 requests used this month (pace: 32 by now)"
    )
    with pytest.raises(BudgetExhaustedError, match=r"budget: 32 of 100 requests used") as caught:
        await budgets.check("apilayer")
    assert caught.value.provider == "apilayer"
    wall.advance(DAY * 31 / 90 + 1)  # the pace allows one more
    assert await budgets.refusal("apilayer") is None


async def test_refuses_past_the_monthly_target() -> None:
    wall = FakeClock(DEC_1 + 30.9 * DAY)
    ledger = MemoryLedger()
    budgets = gate(ledger, wall)
    await ledger.add("apilayer", MONTH, 89)
    assert await budgets.refusal("apilayer") is None
    await budgets.charge("apilayer", 1)
    assert await budgets.refusal("apilayer") == (
        "90 of 100 requests used this month (monthly target: 90 by now)"
    )


async def test_a_new_month_starts_afresh() -> None:
    wall = FakeClock(DEC_1 + 30 * DAY)
    ledger = MemoryLedger()
    budgets = gate(ledger, wall)
    await budgets.charge("apilayer", 90)
    assert await budgets.refusal("apilayer") is not None
    wall.now = datetime(2027, 1, 1, 0, 1, tzinfo=UTC).timestamp()
    assert await budgets.refusal("apilayer") is None
    await budgets.charge("apilayer", 1)
    assert await ledger.used("apilayer", "2027-01") == 1
    assert await ledger.used("apilayer", MONTH) == 90


async def test_unmetered_providers_are_never_refused_nor_counted() -> None:
    ledger = MemoryLedger()
    budgets = gate(ledger, FakeClock(DEC_1))
    assert not budgets.metered("rapira")
    assert await budgets.refusal("rapira") is None
    await budgets.charge("rapira", 5)
    await budgets.charge("apilayer", 0)
    assert await ledger.used("rapira", MONTH) == 0
    assert await ledger.used("apilayer", MONTH) == 0


async def test_the_vendors_remaining_wins_when_it_implies_more_use() -> None:
    wall = FakeClock(DEC_1 + 10 * DAY)
    ledger = MemoryLedger()
    await ledger.add("apilayer", MONTH, 5)
    vendor = Vendor(remaining=75, updated_at=wall.now - 60)  # 25 used, by the vendor's count
    budgets = gate(ledger, wall, vendor)
    assert (await budgets.status())[0].used == 25
    assert await budgets.refusal("apilayer") is None
    vendor.quota = QuotaInfo(remaining_month=60, updated_at=vendor.quota.updated_at)  # 40 used
    assert (
        await budgets.refusal("apilayer") == "40 of 100 requests used this month (pace: 32 by now)"
    )
    vendor.quota = QuotaInfo(remaining_month=99, updated_at=vendor.quota.updated_at)  # lower: ours
    assert (await budgets.status())[0].used == 5


@pytest.mark.parametrize(("remaining", "refused"), [(4, False), (3, True), (0, True)])
async def test_calls_stop_at_or_below_stop_below_remaining(remaining: int, refused: bool) -> None:
    wall = FakeClock(DEC_1 + 30.9 * DAY)  # the pace would allow the whole plan by now
    policy = BudgetPolicy(100, use_percent=Decimal(100), stop_below_remaining=3)
    budgets = gate(MemoryLedger(), wall, Vendor(remaining, wall.now - 1), policy)
    reason = await budgets.refusal("apilayer")
    if refused:
        assert reason == f"the vendor reports {remaining} request(s) left this month"
    else:
        assert reason is None


async def test_a_vendor_figure_from_a_previous_month_is_ignored() -> None:
    wall = FakeClock(DEC_1 + 2 * DAY)
    vendor = Vendor(remaining=0, updated_at=DEC_1 - 3600)  # November's last response
    budgets = gate(MemoryLedger(), wall, vendor)
    assert await budgets.refusal("apilayer") is None
    status = (await budgets.status())[0]
    assert (status.used, status.vendor_remaining) == (0, None)


async def test_a_quota_without_figures_is_ignored() -> None:
    wall = FakeClock(DEC_1 + 2 * DAY)
    vendor = Vendor(remaining=None, updated_at=wall.now)
    budgets = gate(MemoryLedger(), wall, vendor)
    assert await budgets.refusal("apilayer") is None
    vendor.quota = QuotaInfo(remaining_month=0)  # no updated_at
    assert await budgets.refusal("apilayer") is None


async def test_status_when_the_pace_lasts_the_month() -> None:
    wall = FakeClock(DEC_1 + 10 * DAY)
    budgets = gate(MemoryLedger(), wall)
    assert (await budgets.status())[0].projected_exhaustion is None  # nothing used yet
    await budgets.charge("apilayer", 10)  # 10 in 10 days: 100 would last 100 days
    [status] = budgets.last_status
    assert (status.provider, status.month, status.budget, status.target) == (
        "apilayer",
        MONTH,
        100,
        90,
    )
    assert (status.used, status.left, status.vendor_remaining) == (10, 80, None)
    assert status.projected_exhaustion is None


async def test_status_projects_the_exhaustion_within_the_month() -> None:
    wall = FakeClock(DEC_1 + 10 * DAY)
    budgets = gate(MemoryLedger(), wall)
    await budgets.charge("apilayer", 50)  # 50 in 10 days: 100 by day 20
    [status] = budgets.last_status
    assert (status.used, status.left) == (50, 40)
    assert status.projected_exhaustion == datetime(2026, 12, 21, tzinfo=UTC)


async def test_status_left_is_bounded_by_the_vendors_remaining() -> None:
    wall = FakeClock(DEC_1 + 10 * DAY)
    vendor = Vendor(remaining=20, updated_at=wall.now)
    [status] = await gate(MemoryLedger(), wall, vendor).status()
    # 80 used by the vendor's count: past the target, and 20 − 3 left by its own
    assert (status.used, status.vendor_remaining, status.left) == (80, 20, 10)
    assert status.projected_exhaustion == datetime.fromtimestamp(DEC_1 + 12.5 * DAY, UTC)
    vendor.quota = QuotaInfo(remaining_month=2, updated_at=vendor.quota.updated_at)
    [status] = await gate(MemoryLedger(), wall, vendor).status()
    assert status.left == 0


# --- FileLedger --------------------------------------------------------------------------


async def test_file_ledger_counts_survive_a_new_instance(tmp_path: Path) -> None:
    path = tmp_path / "budget.json"
    first = FileLedger(path)
    await first.add("apilayer", MONTH, 3)
    assert await first.add("apilayer", MONTH, 2) == 5
    await first.add("apilayer", "2026-11", 88)
    second = FileLedger(path)
    assert await second.used("apilayer", MONTH) == 5
    assert await second.used("apilayer", "2026-11") == 88
    assert await second.used("rapira", MONTH) == 0
    assert await second.add("apilayer", MONTH, 1) == 6


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", '{"apilayer": 5}'])
async def test_file_ledger_unreadable_file_is_one_warning_and_zero(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, text: str
) -> None:
    path = tmp_path / "budget.json"
    path.write_text(text, encoding="utf-8")
    with caplog.at_level(logging.WARNING, "engine.rates"):
        ledger = FileLedger(path)
        assert await ledger.used("apilayer", MONTH) == 0
        assert await ledger.add("apilayer", MONTH, 1) == 1
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert f"budget ledger {path} unreadable, starting afresh" in warnings[0].getMessage()
    assert await FileLedger(path).used("apilayer", MONTH) == 1  # rewritten whole


async def test_file_ledger_skips_malformed_counts(tmp_path: Path) -> None:
    path = tmp_path / "budget.json"
    path.write_text('{"apilayer": {"2026-12": 7, "2026-11": "9", "2026-10": -1, "2026-09": true}}')
    ledger = FileLedger(path)
    assert [
        await ledger.used("apilayer", m) for m in ("2026-12", "2026-11", "2026-10", "2026-09")
    ] == [7, 0, 0, 0]


async def test_file_ledger_unwritable_directory_warns_and_counts_in_memory(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("a file where the data directory should be")
    path = blocker / "budget.json"  # neither readable nor writable (root cannot either)
    with caplog.at_level(logging.WARNING, "engine.rates"):
        ledger = FileLedger(path)
        assert await ledger.add("apilayer", MONTH, 2) == 2
        assert await ledger.add("apilayer", MONTH, 1) == 3
    assert await ledger.used("apilayer", MONTH) == 3
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(f"cannot write {path} (kept in memory only)" in m for m in messages)
    assert not blocker.is_dir()


# --- RedisLedger -------------------------------------------------------------------------


async def test_redis_ledger_is_one_count_for_every_replica(redis: Redis, prefix: str) -> None:
    one, two = Redis.from_url(REDIS_URL), Redis.from_url(REDIS_URL)
    try:
        a, b = RedisLedger(one, prefix), RedisLedger(two, prefix)
        assert await a.add("apilayer", MONTH, 3) == 3
        assert await b.add("apilayer", MONTH, 2) == 5
        assert (await a.used("apilayer", MONTH), await b.used("apilayer", MONTH)) == (5, 5)
        assert await b.used("apilayer", "2026-11") == 0
        assert await redis.get(f"{prefix}budget:apilayer:{MONTH}") == b"5"
        assert 39 * DAY < await redis.ttl(f"{prefix}budget:apilayer:{MONTH}") <= 40 * DAY
    finally:
        await one.aclose()
        await two.aclose()


async def test_redis_ledger_counts_locally_while_redis_is_down(
    caplog: pytest.LogCaptureFixture,
) -> None:
    down = Redis.from_url(NOWHERE, socket_connect_timeout=0.2, socket_timeout=0.2)
    try:
        ledger = RedisLedger(down, "test_budget_down:")
        with caplog.at_level(logging.WARNING, "engine.rates"):
            assert await ledger.add("apilayer", MONTH, 3) == 3
            assert await ledger.add("apilayer", MONTH, 2) == 5
            assert await ledger.used("apilayer", MONTH) == 5
            # a second metered provider (or the next month) keeps the first one's count
            assert await ledger.add("coingecko", MONTH, 1) == 1
            assert await ledger.add("apilayer", "2027-01", 1) == 1
            assert await ledger.used("apilayer", MONTH) == 5
            assert await ledger.used("coingecko", MONTH) == 1
        assert any(
            "budget ledger unreachable, counting locally" in r.getMessage() for r in caplog.records
        )
        wall = FakeClock(DEC_1)  # share 0: the burst of 3 is all there is
        assert (
            await gate(ledger, wall).refusal("apilayer")
            == "5 of 100 requests used this month (pace: 3 by now)"
        )
    finally:
        await down.aclose()


class FlakyRedis:
    """A real client that fails as a down server would while ``down`` is set."""

    def __init__(self, client: Redis) -> None:
        self.client = client
        self.down = True

    async def get(self, name: str) -> bytes | None:
        if self.down:
            raise RedisConnectionError("Error 111 connecting to 127.0.0.1:6379.")
        return await self.client.get(name)

    def pipeline(self, transaction: bool = True) -> Any:
        if self.down:
            raise RedisConnectionError("Error 111 connecting to 127.0.0.1:6379.")
        return self.client.pipeline(transaction=transaction)


async def test_redis_ledger_sends_what_it_counted_locally_once_redis_answers(
    redis: Redis, prefix: str
) -> None:
    flaky = FlakyRedis(redis)
    ledger = RedisLedger(flaky, prefix)  # type: ignore[arg-type]
    assert await ledger.add("apilayer", MONTH, 3) == 3
    assert await ledger.add("coingecko", MONTH, 1) == 1
    flaky.down = False
    assert await ledger.add("apilayer", MONTH, 1) == 4
    assert await ledger.used("coingecko", MONTH) == 1  # still pending here, not lost
    assert await ledger.add("coingecko", MONTH, 1) == 2
    peer = RedisLedger(redis, prefix)
    assert (await peer.used("apilayer", MONTH), await peer.used("coingecko", MONTH)) == (4, 2)
    assert (await ledger.used("apilayer", MONTH), await ledger.used("coingecko", MONTH)) == (4, 2)


# --- the service charges what the provider sent, and falls back when refused ------------


def metered_service(
    config: AppConfig, ledger: LedgerProtocol, wall: FakeClock, clock: FakeClock
) -> tuple[RateService, CountingProvider, FakeProvider]:
    apilayer = CountingProvider("apilayer", APILAYER, per_fetch=3)
    cbr = FakeProvider("cbr", CBR)
    providers = {"rapira": FakeProvider("rapira", RAPIRA), "apilayer": apilayer, "cbr": cbr}
    service = RateService(
        config, providers, clock, wall=wall, budgets=budgets_of(config, ledger, wall)
    )
    return service, apilayer, cbr


async def test_every_request_is_charged_retries_included(clock: FakeClock) -> None:
    wall, ledger = FakeClock(DEC_1 + 10 * DAY), MemoryLedger()
    service, apilayer, cbr = metered_service(fallback_config(), ledger, wall, clock)
    assert isinstance(apilayer, RequestCountingProtocol)
    result = await service.get_rate("RUB", "USD")
    assert result.sources == ("apilayer",)
    assert (len(apilayer.calls), await ledger.used("apilayer", MONTH)) == (1, 3)
    await service.get_rate("RUB", "EUR")  # one call served every fiat
    await service.refresh("apilayer")
    assert (len(apilayer.calls), await ledger.used("apilayer", MONTH)) == (2, 6)
    assert cbr.calls == []
    assert [s.used for s in service.metrics().budgets] == [6]
    await service.close()


async def test_a_failed_call_is_charged_too(clock: FakeClock) -> None:
    wall, ledger = FakeClock(DEC_1 + 10 * DAY), MemoryLedger()
    service, apilayer, cbr = metered_service(fallback_config(), ledger, wall, clock)
    apilayer.error = ProviderUnavailableError("apilayer", "timeout after 5 s")
    result = await service.get_rate("RUB", "USD")
    assert result.sources == ("cbr",)
    assert (len(apilayer.calls), len(cbr.calls)) == (1, 1)
    assert await ledger.used("apilayer", MONTH) == 3
    await service.close()


async def test_a_refused_call_is_not_made_and_the_fallback_serves(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    wall, ledger = FakeClock(DEC_1 + 10 * DAY), MemoryLedger()
    await ledger.add("apilayer", MONTH, 32)  # the pace allows 32 by day 10
    service, apilayer, cbr = metered_service(fallback_config(), ledger, wall, clock)
    with caplog.at_level(logging.INFO, "engine.rates"):
        for _ in range(3):
            for get in ("USD", "EUR", "THB", "IDR"):
                result = await service.get_rate("RUB", get)
                assert result.sources == ("cbr",)
                assert result.rate == CBR[Pair(get, "RUB")].close
            clock.advance(61)  # cbr's entries go stale in between; apilayer is asked every time
        snapshot = await service.snapshot()
    assert {d.rate.sources for d in snapshot if d.give == "RUB" and d.get != "USDT"} == {("cbr",)}
    assert apilayer.calls == []
    assert len(cbr.calls) == 4  # once per TTL, every fiat at once
    assert await ledger.used("apilayer", MONTH) == 32
    refusals = [r for r in caplog.records if "apilayer not called" in r.getMessage()]
    assert [r.levelno for r in refusals] == [logging.WARNING]
    assert refusals[0].getMessage() == (
        "rates: apilayer not called: budget: 32 of 100 requests used this month "
        "(pace: 32 by now); the next source serves"
    )

    caplog.clear()
    wall.advance(DAY)  # the pace has caught up
    with caplog.at_level(logging.INFO, "engine.rates"):
        result = await service.get_rate("RUB", "USD")
    assert result.sources == ("apilayer",)
    assert len(apilayer.calls) == 1
    assert "rates: apilayer budget allows calls again" in caplog.messages
    await service.close()


async def test_a_refused_call_without_fallback_is_unavailable(clock: FakeClock) -> None:
    wall, ledger = FakeClock(DEC_1), MemoryLedger()
    await ledger.add("apilayer", MONTH, 3)
    apilayer = CountingProvider("apilayer", APILAYER)
    config = make_config(budget=100)
    service = RateService(
        config,
        {"rapira": FakeProvider("rapira", RAPIRA), "apilayer": apilayer},
        clock,
        wall=wall,
        budgets=budgets_of(config, ledger, wall),
    )
    with pytest.raises(RatesUnavailableError, match="budget: 3 of 100 requests used") as caught:
        await service.get_rate("RUB", "USD")
    assert isinstance(caught.value.__cause__, BudgetExhaustedError)
    assert apilayer.calls == []
    await service.close()


class QuotaProvider(CountingProvider):
    """APILayer as the engine sees it: counts its requests and reports the vendor's quota."""

    def __init__(self, name: str, quotes: Mapping[Pair, Quote], quota: QuotaInfo) -> None:
        super().__init__(name, quotes)
        self.quota = quota


async def test_create_rate_service_keeps_rates_and_counts_in_the_data_dir(tmp_path: Path) -> None:
    config = fallback_config()
    apilayer = CountingProvider("apilayer", APILAYER, per_fetch=2)
    providers = {
        "rapira": FakeProvider("rapira", RAPIRA),
        "apilayer": apilayer,
        "cbr": FakeProvider("cbr", CBR),
    }
    first = create_rate_service(config, providers, data_dir=tmp_path)
    assert (await first.get_rate("RUB", "USD")).sources == ("apilayer",)
    await first.close()
    month = Month.of(time.time()).key
    assert json.loads((tmp_path / "budget.json").read_text()) == {"apilayer": {month: 2}}
    assert (tmp_path / "rates.json").is_file()

    second = create_rate_service(config, providers, data_dir=tmp_path)  # a restart
    assert (await second.get_rate("RUB", "EUR")).sources == ("apilayer",)
    assert len(apilayer.calls) == 1
    assert second.budgets is not None
    assert [s.used for s in await second.budgets.status()] == [2]
    await second.close()


async def test_create_rate_service_reads_the_vendors_quota(tmp_path: Path) -> None:
    config = fallback_config()
    quota = QuotaInfo(remaining_month=3, updated_at=datetime.now(UTC))
    apilayer = QuotaProvider("apilayer", APILAYER, quota)
    cbr = FakeProvider("cbr", CBR)
    providers = {"rapira": FakeProvider("rapira", RAPIRA), "apilayer": apilayer, "cbr": cbr}
    service = create_rate_service(config, providers, data_dir=tmp_path)
    assert (await service.get_rate("RUB", "USD")).sources == ("cbr",)
    assert apilayer.calls == []
    await service.close()


# --- 30 days, one restart a day ----------------------------------------------------------


SIM_PRELOAD = {"enabled": True, "interval_seconds": 900, "pairs": ["USD/RUB", "EUR/RUB"]}


class TimedProvider(CountingProvider):
    """APILayer as it answers: ``as_of`` is the time of the answer on the wall clock."""

    def __init__(self, name: str, quotes: Mapping[Pair, Quote], wall: FakeClock) -> None:
        super().__init__(name, quotes)
        self.wall = wall

    async def fetch(self, pairs: Sequence[Pair]) -> Mapping[Pair, Quote]:
        answer = await super().fetch(pairs)
        return {
            p: Quote(p, q.close, source=self.name, as_of=self.wall.now) for p, q in answer.items()
        }


def one_process(
    config: AppConfig, data_dir: Path, mono: FakeClock, wall: FakeClock
) -> tuple[RateService, Preloader, TimedProvider, FakeProvider]:
    """What create_rate_service and the app build for one process, on fake clocks."""
    apilayer, cbr = TimedProvider("apilayer", APILAYER, wall), FakeProvider("cbr", CBR)
    store = FileQuoteStore(data_dir / "rates.json", config.cache.max_size, clock=mono, wall=wall)
    budgets = budgets_of(config, FileLedger(data_dir / "budget.json"), wall)
    service = RateService(
        config,
        {"apilayer": apilayer, "cbr": cbr},
        mono,
        store=store,
        timer=mono,
        wall=wall,
        budgets=budgets,
    )
    return service, Preloader(service, config, clock=mono), apilayer, cbr


@pytest.mark.slow  # thirty simulated days
async def test_thirty_days_with_a_restart_a_day_stay_within_90_percent(tmp_path: Path) -> None:
    config = fallback_config(100, preload=SIM_PRELOAD, directions={"RUB": ["USD", "EUR"]})
    wall = FakeClock(DEC_1)
    total = quiet_restarts = 0
    for day in range(30):
        mono = FakeClock(1000.0 + 7919.0 * day)  # a new process: its monotonic clock is unrelated
        service, preloader, apilayer, _ = one_process(config, tmp_path, mono, wall)
        interval = preloader.intervals["apilayer"]
        age = await service.provider_age("apilayer")
        if age is not None and age < interval:  # restarted inside the interval: no fetch
            await preloader.run_once()
            await service.get_rate("RUB", "USD")
            assert apilayer.calls == [], (
                f"day {day}: a restart {age:.0f} s after a fetch refetched"
            )
            quiet_restarts += 1
        end = DEC_1 + (day + 1) * DAY
        while wall.now < end:
            step = min(
                await preloader.run_once(), 3600.0, end - wall.now
            )  # a quote an hour at least
            mono.advance(step)
            wall.advance(step)
            result = await service.get_rate("RUB", "EUR")
            assert result.sources == ("apilayer",)
        total += len(apilayer.calls)
        await service.close()
    used = await FileLedger(tmp_path / "budget.json").used("apilayer", MONTH)
    print(
        f"30-day simulation: {total} APILayer requests ({quiet_restarts} of 29 restarts made none)"
    )
    assert total == used
    assert total <= 90
    assert quiet_restarts == 29
