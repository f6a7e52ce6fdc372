"""Three clocks: data age by the vendor's ``as_of``, restarts, and replicas whose clocks differ.

* ``wall`` (UTC epoch seconds) ages data by its ``Quote.as_of``: a three-day-old answer
  fetched a second ago is expired, not fresh.
* ``clock`` stamps entries: monotonic in one process (FileQuoteStore turns its stamps into
  wall time across a restart), the Redis server's time (RedisClock) for replicas.
* ``timer`` (monotonic) runs the breakers: a wall-clock step never keeps one open.

The replica tests use the real redis-server at ``REDIS_URL`` (any database) under a key
prefix of their own, whose keys alone the ``redis`` fixture deletes afterwards.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from rates_fakes import APILAYER, CONFIG, RAPIRA, FakeClock, FakeProvider, make_config
from redis.asyncio import Redis
from redis_scratch import REDIS_URL

from engine.config.models import AppConfig
from engine.rates.breaker import BreakerSettings, BreakerState
from engine.rates.cache import CacheEntry, FileQuoteStore, entry_from_json, entry_to_json
from engine.rates.errors import RatesUnavailableError
from engine.rates.redis_store import (
    RedisClock,
    RedisRatesBackend,
    create_redis_rates_backend,
    decode_entry,
)
from engine.rates.service import RateService
from providers.base import Pair, ProviderConfig, Quote
from providers.errors import ProviderUnavailableError

NOW = datetime(2026, 12, 10, 12, tzinfo=UTC).timestamp()
DAY = 86_400.0
USD, EUR, USDT = Pair("USD", "RUB"), Pair("EUR", "RUB"), Pair("USDT", "RUB")


def aged(
    quotes: dict[Pair, Quote], as_of: float | None, *, stale: bool = False
) -> dict[Pair, Quote]:
    return {
        p: Quote(p, q.close, bid=q.bid, ask=q.ask, as_of=as_of, stale=stale)
        for p, q in quotes.items()
    }


def fiat_from(provider: str | list[str], **blocks: ProviderConfig) -> AppConfig:
    """The shipped routing with the fiat rule served by ``provider``; extra provider blocks."""
    routing = {
        **CONFIG["routing"],
        "rules": [
            {"pairs": ["USDT/RUB"], "provider": "rapira", "price": "close"},
            {
                "pairs": ["USD/RUB", "EUR/RUB", "THB/RUB", "AED/RUB", "ZAR/RUB", "IDR/RUB"],
                "provider": provider,
                "price": "close",
            },
        ],
    }
    providers = {
        "rapira": ProviderConfig(kind="rapira"),
        "apilayer": ProviderConfig(kind="apilayer"),
        **blocks,
    }
    return make_config(providers=providers, routing=routing)


@pytest.fixture
def wall() -> FakeClock:
    return FakeClock(NOW)


# --- data age: the vendor's as_of, not the time of the fetch -----------------------------


async def test_three_day_old_data_fetched_a_second_ago_is_expired(
    clock: FakeClock, wall: FakeClock
) -> None:
    apilayer = FakeProvider("apilayer", aged(APILAYER, NOW - 3 * DAY))
    service = RateService(
        make_config(budget=100),
        {"rapira": FakeProvider("rapira", RAPIRA), "apilayer": apilayer},
        clock,
        wall=wall,
    )
    with pytest.raises(RatesUnavailableError, match="apilayer: no usable close price for USD/RUB"):
        await service.get_rate("RUB", "USD")
    clock.advance(1)
    wall.advance(1)
    with pytest.raises(RatesUnavailableError, match="no usable close price"):
        await service.get_rate("RUB", "USD")
    assert len(apilayer.calls) == 2  # expired: never served, asked again
    assert service.metrics().cache.hits == 0
    await service.close()


async def test_three_day_old_data_gives_way_to_the_fallback(
    clock: FakeClock, wall: FakeClock
) -> None:
    config = fiat_from(
        ["apilayer", "cbr"], cbr=ProviderConfig(kind="cbr", max_data_age_seconds=4 * DAY)
    )
    apilayer = FakeProvider("apilayer", aged(APILAYER, NOW - 3 * DAY))
    cbr = FakeProvider("cbr", aged(APILAYER, NOW - DAY))
    service = RateService(
        config,
        {"rapira": FakeProvider("rapira", RAPIRA), "apilayer": apilayer, "cbr": cbr},
        clock,
        wall=wall,
    )
    result = await service.get_rate("RUB", "USD")
    assert result.sources == ("cbr",)
    assert result.age_seconds == DAY
    await service.close()


async def test_half_an_hour_old_data_is_served_with_its_age(
    clock: FakeClock, wall: FakeClock
) -> None:
    # budget 100: the TTL is stretched to ~8.3 h, so 30 min is within the limit
    apilayer = FakeProvider("apilayer", aged(APILAYER, NOW - 1800))
    service = RateService(
        make_config(budget=100),
        {"rapira": FakeProvider("rapira", RAPIRA), "apilayer": apilayer},
        clock,
        wall=wall,
    )
    result = await service.get_rate("RUB", "USD")
    assert (result.sources, result.stale) == (("apilayer",), False)
    assert result.age_seconds == pytest.approx(1800)
    assert result.fetched_at == clock.now  # fetched just now, the data is half an hour old
    clock.advance(60)
    wall.advance(60)
    again = await service.get_rate("RUB", "USD")
    assert again.age_seconds == pytest.approx(1860)
    assert len(apilayer.calls) == 1
    await service.close()


async def test_max_data_age_serves_a_day_old_quote_as_fresh_but_aged(
    clock: FakeClock, wall: FakeClock
) -> None:
    config = fiat_from("cbr", cbr=ProviderConfig(kind="cbr", max_data_age_seconds=4 * DAY))
    cbr = FakeProvider("cbr", aged(APILAYER, NOW - DAY))
    service = RateService(
        config, {"rapira": FakeProvider("rapira", RAPIRA), "cbr": cbr}, clock, wall=wall
    )
    result = await service.get_rate("RUB", "EUR")
    assert (result.sources, result.stale, result.rate) == (("cbr",), False, Decimal("94.20"))
    assert result.age_seconds == pytest.approx(DAY)
    wall.advance(3 * DAY + 1)  # now past four days by the bank's date
    clock.advance(3 * DAY + 1)
    cbr.quotes = aged(APILAYER, NOW - DAY)  # the bank has published nothing since
    with pytest.raises(RatesUnavailableError):
        await service.get_rate("RUB", "EUR")
    await service.close()


async def test_a_quote_the_vendor_flags_is_stale_though_fetched_just_now(
    service: RateService, rapira: FakeProvider
) -> None:
    rapira.quotes = aged(RAPIRA, None, stale=True)  # Rapira's isWorking: 0
    result = await service.get_rate("RUB", "USDT")
    assert (result.stale, result.age_seconds, result.sources) == (True, 0, ("rapira",))
    assert len(rapira.calls) == 1


async def test_data_ahead_of_the_clock_reads_as_just_fetched(
    clock: FakeClock, wall: FakeClock
) -> None:
    apilayer = FakeProvider("apilayer", aged(APILAYER, NOW + 120))  # skew, or tomorrow's rate
    service = RateService(
        make_config(),
        {"rapira": FakeProvider("rapira", RAPIRA), "apilayer": apilayer},
        clock,
        wall=wall,
    )
    result = await service.get_rate("RUB", "USD")
    assert (result.age_seconds, result.stale) == (0, False)
    await service.close()


# --- FileQuoteStore: the age of an entry survives a restart ------------------------------


def entry(pair: Pair, fetched_at: float, **quote: Any) -> CacheEntry:
    return CacheEntry(Quote(pair, APILAYER[pair].close, **quote), fetched_at)


async def test_file_store_restores_entries_with_their_age(tmp_path: Path) -> None:
    path, wall = tmp_path / "rates.json", FakeClock(NOW)
    before = FakeClock(1000.0)
    first = FileQuoteStore(path, 16, clock=before, wall=wall)
    usd_put = entry(USD, before.now - 100, as_of=NOW - 3600)
    await first.put_many(
        {("apilayer", USD): usd_put, ("apilayer", EUR): entry(EUR, before.now, stale=True)}
    )
    wall.advance(500)  # down for 500 s; the new process's monotonic clock starts elsewhere
    after = FakeClock(7.0)
    second = FileQuoteStore(path, 16, clock=after, wall=wall)
    usd, eur = await second.get(("apilayer", USD)), await second.get(("apilayer", EUR))
    assert usd is not None and eur is not None
    assert after.now - usd.fetched_at == pytest.approx(600)
    assert after.now - eur.fetched_at == pytest.approx(500)
    assert (usd.quote.as_of, usd.quote.stale, eur.quote.stale) == (NOW - 3600, False, True)
    assert usd.quote == usd_put.quote


async def test_a_restarted_service_serves_from_the_file_without_fetching(
    tmp_path: Path, rapira: FakeProvider, apilayer: FakeProvider
) -> None:
    path, wall, config = tmp_path / "rates.json", FakeClock(NOW), make_config()
    one = FakeClock(1000.0)
    first = RateService(
        config,
        {"rapira": rapira, "apilayer": apilayer},
        one,
        wall=wall,
        store=FileQuoteStore(path, 16, clock=one, wall=wall),
    )
    await first.get_rate("RUB", "USD")
    await first.close()
    wall.advance(20)
    two = FakeClock(99_999.0)
    second = RateService(
        config,
        {"rapira": rapira, "apilayer": apilayer},
        two,
        wall=wall,
        store=FileQuoteStore(path, 16, clock=two, wall=wall),
    )
    result = await second.get_rate("RUB", "USD")
    assert (result.age_seconds, result.stale) == (pytest.approx(20), False)
    assert await second.provider_age("apilayer") == pytest.approx(20)
    assert len(apilayer.calls) == 1
    await second.close()


@pytest.mark.parametrize("text", ["{broken", b"\xff\xfe".decode("latin-1")])
async def test_file_store_unreadable_file_is_a_warning_and_empty(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, text: str
) -> None:
    path = tmp_path / "rates.json"
    path.write_text(text, encoding="latin-1")
    with caplog.at_level(logging.WARNING, "engine.rates"):
        store = FileQuoteStore(path, 16, clock=FakeClock(), wall=FakeClock(NOW))
    assert len(store) == 0
    assert await store.get(("apilayer", USD)) is None
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.getMessage().startswith(f"rates: ignoring unreadable {path}: ")


async def test_file_store_skips_unreadable_entries(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "rates.json"
    good = {"provider": "apilayer", "entry": entry_to_json(entry(USD, NOW - 10))}
    bad = {"provider": "apilayer", "entry": {**entry_to_json(entry(EUR, NOW)), "close": 94.2}}
    path.write_text(json.dumps([good, bad, {"entry": {}}]))
    with caplog.at_level(logging.WARNING, "engine.rates"):
        store = FileQuoteStore(path, 16, clock=FakeClock(), wall=FakeClock(NOW))
    assert len(store) == 1
    assert (
        len([r for r in caplog.records if "ignoring an unreadable entry" in r.getMessage()]) == 2
    )


# --- format: version 1 (before as_of and stale) is still read ----------------------------


V1 = (
    b'{"v": 1, "pair": "USDT/RUB", "close": "85.30", "bid": "85.20", "ask": "85.40",'
    b' "source": "rapira", "fetched_at": 1718000000.25}'
)  # as the previous release wrote


def test_format_1_entries_still_decode() -> None:
    got = decode_entry(V1)
    assert got == CacheEntry(
        Quote(USDT, Decimal("85.30"), bid=Decimal("85.20"), ask=Decimal("85.40"), source="rapira"),
        1718000000.25,
    )
    assert (got.quote.as_of, got.quote.stale) == (None, False)
    assert entry_from_json(json.loads(V1)) == got


def test_format_2_round_trips_as_of_and_stale() -> None:
    stamped = entry(USD, NOW, as_of=NOW - 60.5, stale=True)
    data = entry_to_json(stamped)
    assert (data["v"], data["as_of"], data["stale"]) == (2, NOW - 60.5, True)
    assert entry_from_json(json.loads(json.dumps(data))) == stamped


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"v": 3}, "format version 3, expected 2"),
        ({"v": 2, "as_of": "yesterday"}, "as_of 'yesterday' is not a number"),
        ({"v": 2, "stale": "no"}, "source 'rapira' or stale 'no' is malformed"),
    ],
)
def test_other_formats_are_refused(change: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        entry_from_json({**json.loads(V1), **change})


async def test_a_format_1_key_in_redis_is_served_after_an_upgrade(
    redis: Redis, prefix: str
) -> None:
    backend = create_redis_rates_backend(REDIS_URL, make_config(), prefix=prefix)
    try:
        await redis.set(f"{prefix}rates:rapira:USDT/RUB", V1, px=60_000)
        got = await backend.store.get(("rapira", USDT))
        assert got == decode_entry(V1)
    finally:
        await backend.close()


# --- replicas whose wall clocks differ by minutes ----------------------------------------


class LocalWall:
    """This host's wall clock: real time plus a skew that can be stepped."""

    def __init__(self, skew: float) -> None:
        self.skew = skew

    def __call__(self) -> float:
        return time.time() + self.skew


@dataclass
class Replica:
    service: RateService
    apilayer: FakeProvider
    backend: RedisRatesBackend
    wall: LocalWall
    timer: FakeClock
    clock: Callable[[], float]


async def until(condition: Callable[[], bool]) -> None:
    for _ in range(200):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition never became true")


@pytest.fixture
async def made(redis: Redis) -> AsyncIterator[list[Replica]]:
    replicas: list[Replica] = []
    yield replicas
    for replica in replicas:
        await replica.service.close()
        await replica.backend.close()


async def replica(
    made: list[Replica],
    prefix: str,
    skew: float,
    *,
    sync: bool = True,
    timer_start: float = 1000.0,
) -> Replica:
    """A replica wired as create_rate_service does, its local wall clock ``skew`` s off.

    With ``sync``, entries are stamped with a RedisClock (synced to the server's TIME);
    without, with the local wall clock itself.
    """
    config = make_config(directions={"RUB": ["USD", "EUR"]})
    backend = create_redis_rates_backend(REDIS_URL, config, prefix=prefix)
    wall, timer = LocalWall(skew), FakeClock(timer_start)
    clock: Callable[[], float] = wall
    if sync:
        redis_clock = RedisClock(backend.redis, wall=wall, monotonic=timer)
        assert await redis_clock.sync()
        clock = redis_clock
    apilayer = FakeProvider("apilayer", APILAYER)
    service = RateService(
        config,
        {"rapira": FakeProvider("rapira", RAPIRA), "apilayer": apilayer},
        clock,
        store=backend.store,
        fetch_lock=backend.fetch_lock,
        timer=timer,
        wall=clock,
        breaker=BreakerSettings(failure_threshold=1, open_seconds=30),
    )
    made.append(Replica(service, apilayer, backend, wall, timer, clock))
    return made[-1]


async def test_synced_replicas_agree_on_an_entrys_age_despite_their_clocks(
    made: list[Replica], prefix: str
) -> None:
    slow = await replica(made, prefix, -300)
    fast = await replica(made, prefix, +300, timer_start=55_555.0)
    first = await slow.service.get_rate("RUB", "EUR")
    assert (first.sources, len(slow.apilayer.calls)) == (("apilayer",), 1)
    second = await fast.service.get_rate("RUB", "EUR")
    await asyncio.sleep(0.05)  # a background refresh, had one started, would have called
    assert fast.apilayer.calls == []  # no early refetch
    assert (second.rate, second.stale) == (first.rate, False)
    assert second.age_seconds < 5
    assert abs(slow.clock() - fast.clock()) < 1  # the server's time, both


async def test_unsynced_skewed_clocks_would_refetch_early(
    made: list[Replica], prefix: str
) -> None:
    slow = await replica(made, prefix, -300, sync=False)
    fast = await replica(made, prefix, +300, sync=False)
    await slow.service.get_rate("RUB", "EUR")
    second = await fast.service.get_rate("RUB", "EUR")
    # the slow replica's stamp reads 600 s old on the fast one: past the 60 s TTL
    assert second.stale
    assert second.age_seconds == pytest.approx(600, abs=5)
    await until(lambda: len(fast.apilayer.calls) == 1)


async def test_a_breaker_closes_after_open_seconds_of_monotonic_time(
    made: list[Replica], prefix: str
) -> None:
    a = await replica(made, prefix, -300)
    b = await replica(made, prefix, +300)
    a.apilayer.error = ProviderUnavailableError("apilayer", "timeout after 5 s")
    with pytest.raises(RatesUnavailableError):
        await a.service.get_rate("RUB", "USD")
    assert a.service.metrics().breakers["apilayer"] is BreakerState.OPEN
    assert b.service.metrics().breakers["apilayer"] is BreakerState.CLOSED  # per process

    stamp = a.clock()
    a.wall.skew -= 3600  # NTP steps this host's wall clock back an hour
    assert a.clock() == stamp  # the entry clock does not follow the step
    a.apilayer.error = None
    a.timer.advance(29)
    with pytest.raises(RatesUnavailableError, match="circuit open"):
        await a.service.get_rate("RUB", "USD")
    assert len(a.apilayer.calls) == 1
    a.timer.advance(2)  # 31 s of monotonic time, whatever the wall clock says
    result = await a.service.get_rate("RUB", "USD")
    assert result.sources == ("apilayer",)
    assert a.service.metrics().breakers["apilayer"] is BreakerState.CLOSED
    assert len(a.apilayer.calls) == 2


async def test_redis_clock_is_the_local_wall_clock_until_synced(redis: Redis) -> None:
    wall, timer = LocalWall(-300), FakeClock(1000.0)
    clock = RedisClock(redis, wall=wall, monotonic=timer)
    assert not clock.synced
    assert clock() == pytest.approx(time.time() - 300, abs=1)
    timer.advance(10)
    assert clock() == pytest.approx(time.time() - 290, abs=1)
    assert await clock.sync()
    assert clock.synced
    seconds, micros = await redis.time()
    assert clock() == pytest.approx(seconds + micros / 1e6, abs=1)


async def test_redis_clock_stays_put_when_redis_is_down() -> None:
    down = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    try:
        clock = RedisClock(down, wall=LocalWall(-300), monotonic=FakeClock(1000.0))
        before = clock()
        assert not await clock.sync()
        assert (clock(), clock.synced) == (before, False)
    finally:
        await down.aclose()
