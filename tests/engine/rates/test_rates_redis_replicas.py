"""Replicas sharing a real redis-server: one upstream call per TTL window, one preloader.

Each "replica" is a RateService with its own fake providers and its own Redis objects, as
separate processes would have; a FakeClock shared by all stands in for the wall clock.
The server is ``REDIS_URL`` (any database); each test keeps to a key prefix of its own and
deletes only those keys afterwards (see ``redis_scratch``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from rates_fakes import APILAYER, RAPIRA, FakeClock, FakeProvider, make_config
from redis.asyncio import Redis
from redis_scratch import REDIS_URL

from engine.config.models import AppConfig
from engine.rates.errors import RatesUnavailableError
from engine.rates.lock import RedisFetchLock, RedisHealth, RedisLeaderLock
from engine.rates.preloader import Preloader
from engine.rates.redis_store import (
    RedisQuoteStore,
    RedisRatesBackend,
    create_redis_rates_backend,
)
from engine.rates.service import RateService
from providers.base import Pair
from providers.errors import ProviderUnavailableError

NOWHERE = "redis://127.0.0.1:1/0"  # nothing listens on port 1

pytestmark = pytest.mark.slow  # leases and locks expiring on a real Redis


@dataclass
class Replica:
    service: RateService
    rapira: FakeProvider
    apilayer: FakeProvider
    backend: RedisRatesBackend


@pytest.fixture
async def replicas(
    redis: Redis, prefix: str, clock: FakeClock
) -> AsyncIterator[tuple[Replica, Replica]]:
    """Two replicas wired as in production (the clock stands in for ``time.time``)."""
    config = make_config()
    made: list[Replica] = []
    for _ in range(2):
        backend = create_redis_rates_backend(REDIS_URL, config, prefix=prefix)
        rapira, apilayer = FakeProvider("rapira", RAPIRA), FakeProvider("apilayer", APILAYER)
        service = RateService(
            config,
            {"rapira": rapira, "apilayer": apilayer},
            clock,
            store=backend.store,
            fetch_lock=backend.fetch_lock,
        )
        made.append(Replica(service, rapira, apilayer, backend))
    yield made[0], made[1]
    for replica in made:
        await replica.service.close()
        await replica.backend.close()


def calls(*providers: FakeProvider) -> int:
    return sum(len(p.calls) for p in providers)


async def until(condition: Callable[[], bool]) -> None:
    for _ in range(200):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition never became true")


@dataclass
class Scratch:
    """The locks and stores of one test, every key under its prefix."""

    redis: Redis
    prefix: str

    @property
    def lock(self) -> str:
        return f"{self.prefix}rates_fetch:apilayer"

    @property
    def leader(self) -> str:
        return f"{self.prefix}preloader:leader"

    def fetch_lock(self, **kwargs: Any) -> RedisFetchLock:
        return RedisFetchLock(self.redis, prefix=f"{self.prefix}rates_fetch:", **kwargs)

    def leader_lock(self, **kwargs: Any) -> RedisLeaderLock:
        return RedisLeaderLock(self.redis, key=self.leader, **kwargs)

    def store(self) -> RedisQuoteStore:
        return RedisQuoteStore(
            self.redis, prefix=f"{self.prefix}rates:", max_size=16, entry_ttl_seconds=1020
        )


@pytest.fixture
def scratch(redis: Redis, prefix: str) -> Scratch:
    return Scratch(redis, prefix)


def replica(
    scratch: Scratch, config: AppConfig, clock: FakeClock, lock: RedisFetchLock
) -> tuple[RateService, FakeProvider]:
    apilayer = FakeProvider("apilayer", APILAYER)
    return RateService(
        config, {"apilayer": apilayer}, clock, store=scratch.store(), fetch_lock=lock
    ), apilayer


# --- fetch lock: one upstream call per TTL window across replicas -----------------------


async def test_fifty_requests_on_two_replicas_make_one_upstream_call(
    replicas: tuple[Replica, Replica], clock: FakeClock
) -> None:
    a, b = replicas
    a.apilayer.gate = b.apilayer.gate = gate = asyncio.Event()
    tasks = [asyncio.create_task(r.service.get_rate("RUB", "EUR")) for r in (a, b) * 25]
    await until(lambda: calls(a.apilayer, b.apilayer) == 1)
    await asyncio.sleep(0.15)  # the other replica polls meanwhile, and does not call
    assert calls(a.apilayer, b.apilayer) == 1
    gate.set()
    results = await asyncio.gather(*tasks)
    assert {r.rate for r in results} == {Decimal("94.20")}
    assert (calls(a.apilayer, b.apilayer), calls(a.rapira, b.rapira)) == (1, 0)

    clock.advance(60 + 900 + 1)  # past TTL and stale window: everyone must wait for a fetch
    results = await asyncio.gather(*(r.service.get_rate("RUB", "EUR") for r in (b, a) * 25))
    assert {(r.rate, r.age_seconds, r.stale) for r in results} == {(Decimal("94.20"), 0, False)}
    assert calls(a.apilayer, b.apilayer) == 2


async def test_stale_entries_are_refreshed_once_across_replicas(
    replicas: tuple[Replica, Replica], clock: FakeClock
) -> None:
    a, b = replicas
    await a.service.get_rate("USDT", "THB")  # two providers, one call each
    clock.advance(61)  # stale: served at once, refreshed in the background
    results = await asyncio.gather(*(r.service.get_rate("USDT", "THB") for r in (a, b) * 25))
    assert all(r.stale for r in results)
    for r in (a, b):  # wait for both replicas' background refreshes
        await r.service.refresh("apilayer", if_older_than=60)
        await r.service.refresh("rapira", if_older_than=60)
    assert (calls(a.apilayer, b.apilayer), calls(a.rapira, b.rapira)) == (2, 2)
    fresh = await b.service.get_rate("USDT", "THB")
    assert (fresh.stale, fresh.age_seconds) == (False, 0)


async def test_a_dead_holder_is_waited_for_until_its_lock_expires(
    redis: Redis, scratch: Scratch, clock: FakeClock
) -> None:
    lock = scratch.fetch_lock(ttl_seconds=0.3, poll_seconds=0.01)
    service, apilayer = replica(scratch, make_config(directions={"RUB": ["EUR"]}), clock, lock)
    await redis.set(scratch.lock, "a replica that crashed mid-fetch", px=300)
    started = time.monotonic()
    rate = await service.get_rate("RUB", "EUR")
    assert rate.rate == Decimal("94.20")
    assert len(apilayer.calls) == 1
    assert time.monotonic() - started >= 0.2
    assert await redis.exists(scratch.lock) == 0  # released after its own fetch
    await service.close()


async def test_when_the_holder_fails_the_other_replica_calls_upstream_itself(
    scratch: Scratch, clock: FakeClock
) -> None:
    config = make_config(directions={"RUB": ["EUR"]})
    a, a_api = replica(scratch, config, clock, scratch.fetch_lock(poll_seconds=0.01))
    b, b_api = replica(scratch, config, clock, scratch.fetch_lock(poll_seconds=0.01))
    a_api.gate, a_api.error = asyncio.Event(), ProviderUnavailableError("apilayer", "HTTP 503")
    failing = asyncio.create_task(a.get_rate("RUB", "EUR"))
    await until(lambda: len(a_api.calls) == 1)
    waiting = asyncio.create_task(b.get_rate("RUB", "EUR"))
    await asyncio.sleep(0.05)
    assert b_api.calls == []  # b waits for a
    a_api.gate.set()
    with pytest.raises(RatesUnavailableError, match="HTTP 503"):
        await failing
    assert (await waiting).rate == Decimal("94.20")
    assert len(b_api.calls) == 1
    await a.close()
    await b.close()


async def test_the_lock_is_released_on_failure_and_never_freed_for_another_holder(
    redis: Redis,
    scratch: Scratch,
) -> None:
    lock = scratch.fetch_lock()

    async def nothing_shared() -> int | None:
        return None

    async def failing() -> int:
        raise ProviderUnavailableError("apilayer", "HTTP 503")

    with pytest.raises(ProviderUnavailableError):
        await lock.run("apilayer", failing, nothing_shared)
    assert await redis.exists(scratch.lock) == 0

    async def outlived() -> int:  # our lock expired and another replica took it
        await redis.set(scratch.lock, "another replica", px=5000)
        return 1

    assert await lock.run("apilayer", outlived, nothing_shared) == 1
    assert await redis.get(scratch.lock) == b"another replica"


async def test_a_fetch_that_outlived_its_lock_leaves_the_next_holder_alone(
    redis: Redis, scratch: Scratch, caplog: pytest.LogCaptureFixture
) -> None:
    health = RedisHealth()
    lock = scratch.fetch_lock(ttl_seconds=0.1, health=health)

    async def nothing_shared() -> int | None:
        return None

    async def slow() -> int:
        await asyncio.sleep(0.15)  # past the lock's TTL: it expired...
        await redis.set(scratch.lock, "another replica", px=5000)  # ...and was taken
        return 1

    with caplog.at_level(logging.WARNING, "engine.rates"):
        assert await lock.run("apilayer", slow, nothing_shared) == 1
    assert await redis.get(scratch.lock) == b"another replica"  # neither freed...
    assert 4_000 < await redis.pttl(scratch.lock) <= 5_000  # ...nor extended
    assert health.available  # a lost lock is no Redis outage
    assert caplog.messages == [
        f"rates: fetch lock {scratch.lock} expired before its fetch ended (TTL 0.1 s); "
        "another replica may have fetched too"
    ]


async def test_a_peer_result_found_after_taking_the_lock_saves_the_call(scratch: Scratch) -> None:
    lock = scratch.fetch_lock()

    async def peer_just_finished() -> str | None:
        return "peer's entries"

    async def fetch() -> str:
        raise AssertionError("upstream must not be called")

    assert await lock.run("apilayer", fetch, peer_just_finished) == "peer's entries"


async def test_redis_down_quotes_still_work_through_upstream(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    config = make_config()
    backend = create_redis_rates_backend(NOWHERE, config)
    rapira, apilayer = FakeProvider("rapira", RAPIRA), FakeProvider("apilayer", APILAYER)
    service = RateService(
        config,
        {"rapira": rapira, "apilayer": apilayer},
        clock,
        store=backend.store,
        fetch_lock=backend.fetch_lock,
    )
    with caplog.at_level(logging.WARNING, "engine.rates"):
        results = await asyncio.gather(*(service.get_rate("USDT", "THB") for _ in range(50)))
        again = await service.get_rate("RUB", "IDR")  # from this replica's own cache
        leading = await backend.leader.hold()
    assert {r.rate for r in results} == {Decimal("31.76908752327746741154562383612663")}
    assert again.rate == Decimal("0.005654")
    assert (len(rapira.calls), len(apilayer.calls)) == (1, 1)  # in-process single flight
    assert not leading  # no lease to rely on: nobody preloads until Redis is back
    [warning] = caplog.messages
    assert warning.startswith("rates: Redis unavailable (reading crypto_helper:rates:")
    await service.close()
    await backend.close()


# --- leader lock: one preloader at a time ------------------------------------------------


async def test_one_leader_renews_releases_and_is_replaced(redis: Redis, scratch: Scratch) -> None:
    a, b = (scratch.leader_lock(ttl_seconds=10) for _ in range(2))
    assert (await a.hold(), await b.hold(), await a.hold()) == (True, False, True)
    assert 9_000 < await redis.pttl(scratch.leader) <= 10_000
    await a.release()
    assert await redis.exists(scratch.leader) == 0
    assert (await b.hold(), await a.hold()) == (True, False)


async def test_an_expired_leader_is_taken_over(redis: Redis, scratch: Scratch) -> None:
    a, b = (scratch.leader_lock(ttl_seconds=0.1) for _ in range(2))
    assert await a.hold()
    await asyncio.sleep(0.15)  # a crashed: no renewal
    assert await b.hold()
    assert not await a.hold()
    await a.release()  # not the holder: nothing happens
    assert await redis.exists(scratch.leader) == 1


async def test_a_leader_that_lost_its_key_neither_renews_nor_frees_it(
    redis: Redis, scratch: Scratch, caplog: pytest.LogCaptureFixture
) -> None:
    health = RedisHealth()
    a, b = (scratch.leader_lock(ttl_seconds=10, health=health) for _ in range(2))
    with caplog.at_level(logging.WARNING, "engine.rates"):
        assert await a.hold()
        # a's lease ran out unseen (a paused VM) and another replica took the key
        await redis.set(scratch.leader, "another replica", px=5000)
        assert not await a.hold()
        assert 4_000 < await redis.pttl(scratch.leader) <= 5_000  # not renewed for a
        await redis.delete(scratch.leader)
        assert await b.hold()  # the same while b believes it leads and gives up
        await redis.set(scratch.leader, "another replica", px=5000)
        await b.release()
        assert await redis.get(scratch.leader) == b"another replica"  # not freed
        await redis.delete(scratch.leader)
        assert await a.hold()  # free again: taken
    assert health.available  # a lost key is no Redis outage
    assert caplog.messages == []


async def test_a_leader_cut_off_from_redis_leads_only_until_its_lease_ends(
    scratch: Scratch,
) -> None:
    health = RedisHealth(cooldown_seconds=60)
    lock = scratch.leader_lock(ttl_seconds=0.1, health=health)
    assert await lock.hold()
    health.failed("test", ConnectionError("cut off"))
    assert await lock.hold()  # nobody else can have it yet
    await asyncio.sleep(0.15)
    assert not await lock.hold()


async def test_only_the_leader_preloads_and_another_takes_over(
    scratch: Scratch, clock: FakeClock
) -> None:
    config = make_config()
    sides = []
    for _ in range(2):
        rapira, apilayer = FakeProvider("rapira", RAPIRA), FakeProvider("apilayer", APILAYER)
        service = RateService(
            config,
            {"rapira": rapira, "apilayer": apilayer},
            clock,
            store=scratch.store(),
            fetch_lock=scratch.fetch_lock(),
        )
        leader = scratch.leader_lock(ttl_seconds=180)
        sides.append((Preloader(service, config, clock=clock, leader=leader), rapira, apilayer))
    (p1, *first), (p2, *second) = sides

    for step in range(2):
        clock.advance(60 * step)
        assert await p1.run_once() == 60
        assert await p2.run_once() == 60  # not the leader: asks again in one interval
    assert (calls(*first), calls(*second)) == (4, 0)

    await p1.stop()  # releases the leadership
    await p2.run_once()  # leads now, but what p1 just fetched is shared: nothing to do
    assert (calls(*first), calls(*second)) == (4, 0)
    clock.advance(60)
    await p2.run_once()
    assert await p1.run_once() == 60  # p1 does not get it back
    assert (calls(*first), calls(*second)) == (4, 2)


async def test_a_crashed_preloader_is_replaced_after_its_lease(
    scratch: Scratch, clock: FakeClock
) -> None:
    config = make_config(directions={"RUB": ["EUR"]})
    services = [replica(scratch, config, clock, scratch.fetch_lock()) for _ in range(2)]
    (s1, api1), (s2, api2) = services
    p1 = Preloader(s1, config, clock=clock, leader=scratch.leader_lock(ttl_seconds=0.1))
    p2 = Preloader(s2, config, clock=clock, leader=scratch.leader_lock(ttl_seconds=0.1))
    await p1.run_once()
    await p2.run_once()
    assert (len(api1.calls), len(api2.calls)) == (1, 0)
    await asyncio.sleep(0.15)  # p1 stopped renewing without releasing
    clock.advance(60)
    await p2.run_once()
    assert (len(api1.calls), len(api2.calls)) == (1, 1)


async def test_the_leader_wakes_up_in_time_to_renew(scratch: Scratch, clock: FakeClock) -> None:
    fiat = {"enabled": True, "interval_seconds": 60, "pairs": ["EUR/RUB"]}
    config = make_config(budget=100, preload=fiat, directions={"RUB": ["EUR"]})
    service, apilayer = replica(scratch, config, clock, scratch.fetch_lock())
    plain = Preloader(service, config, clock=clock)
    led = Preloader(service, config, clock=clock, leader=scratch.leader_lock(ttl_seconds=180))
    paced = 30 * 86_400 / 87  # 90 % of 100, less a burst of 3: due every 8.3 h
    assert led.intervals == {"apilayer": paced}
    assert await plain.run_once() == paced
    assert await led.run_once() == 60  # but the lease (180 s) must be renewed before
    assert apilayer.calls == [(Pair("EUR", "RUB"),)]
    await service.close()
