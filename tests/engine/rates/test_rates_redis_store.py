"""RedisQuoteStore on a real redis-server: exact Decimals, expiring keys, a local fallback.

The server is ``REDIS_URL`` (any database); each test keeps to a key prefix of its own and
deletes only those keys afterwards (see ``redis_scratch``). No server means failing tests,
not skipped ones.
"""

from __future__ import annotations

import json
import logging
from decimal import Decimal

import pytest
from rates_fakes import make_config
from redis.asyncio import Redis
from redis_scratch import REDIS_URL, delete_prefixed, glob_escape

from engine.rates.cache import CacheEntry, CacheKey
from engine.rates.redis_store import (
    RedisQuoteStore,
    create_redis_rates_backend,
    decode_entry,
    encode_entry,
)
from providers.base import Pair, Quote

NOWHERE = "redis://127.0.0.1:1/0"  # nothing listens on port 1

IDR = Pair("IDR", "RUB")
USDT = Pair("USDT", "RUB")
ENTRIES: dict[CacheKey, CacheEntry] = {
    ("apilayer", IDR): CacheEntry(Quote(IDR, Decimal("0.005654")), 1_718_000_000.125),
    ("rapira", USDT): CacheEntry(
        Quote(USDT, Decimal("85.30"), bid=Decimal("85.20"), ask=Decimal("85.40"), source="rapira"),
        1_718_000_001.0,
    ),
    ("x", Pair("A", "B")): CacheEntry(
        Quote(Pair("A", "B"), Decimal("31.76908752327746741154562383612663"), ask=Decimal("1E+3")),
        0.1 + 0.2,  # floats survive JSON exactly
    ),
}


def store(redis: Redis, prefix: str, *, max_size: int = 16, ttl: float = 1020) -> RedisQuoteStore:
    return RedisQuoteStore(
        redis, prefix=f"{prefix}rates:", max_size=max_size, entry_ttl_seconds=ttl
    )


async def keys(redis: Redis, prefix: str) -> list[bytes]:
    """This test's keys, sorted."""
    return sorted([key async for key in redis.scan_iter(match=f"{glob_escape(prefix)}*")])


def decimals(entry: CacheEntry) -> list[object]:
    q = entry.quote
    return [None if d is None else d.as_tuple() for d in (q.close, q.bid, q.ask)]


async def test_round_trip_keeps_every_digit_and_exponent(redis: Redis, prefix: str) -> None:
    await store(redis, prefix).put_many(ENTRIES)
    reader = store(redis, prefix)  # another replica: nothing local, everything from Redis
    for key, entry in ENTRIES.items():
        got = await reader.get(key)
        assert got == entry
        assert got is not None and decimals(got) == decimals(entry)  # "85.30" stays 85.30
    assert await reader.get(("rapira", Pair("BTC", "RUB"))) is None


async def test_entries_are_json_with_decimal_strings_under_readable_keys(
    redis: Redis, prefix: str
) -> None:
    await store(redis, prefix).put_many(ENTRIES)
    raw = await redis.get(f"{prefix}rates:rapira:USDT/RUB")
    assert json.loads(raw) == {
        "v": 2,
        "pair": "USDT/RUB",
        "close": "85.30",
        "bid": "85.20",
        "ask": "85.40",
        "source": "rapira",
        "fetched_at": 1718000001.0,
        "as_of": None,
        "stale": False,
    }
    assert await keys(redis, prefix) == [
        f"{prefix}rates:apilayer:IDR/RUB".encode(),
        f"{prefix}rates:rapira:USDT/RUB".encode(),
        f"{prefix}rates:x:A/B".encode(),
    ]


async def test_every_key_expires(redis: Redis, prefix: str) -> None:
    await store(redis, prefix, ttl=1020).put_many(ENTRIES)
    assert len(await keys(redis, prefix)) == len(ENTRIES)
    for key in await keys(redis, prefix):
        assert 1_019_000 < await redis.pttl(key) <= 1_020_000


async def test_factory_keys_outlive_the_longest_provider_ttl(redis: Redis, prefix: str) -> None:
    # apilayer at 100 requests a month: fresh for 8.3 h (30 days / 87), then 900 s stale,
    # plus 60 s margin
    backend = create_redis_rates_backend(REDIS_URL, make_config(budget=100), prefix=prefix)
    try:
        assert await backend.ping()
        await backend.store.put_many(ENTRIES)
        ttl = await redis.pttl(f"{prefix}rates:apilayer:IDR/RUB")
        longest = 30 * 86_400 / 87 + 900 + 60
        assert (longest - 1) * 1000 < ttl <= longest * 1000
    finally:
        await backend.close()


async def test_the_newer_of_redis_and_the_local_copy_wins(redis: Redis, prefix: str) -> None:
    mine, peer = store(redis, prefix), store(redis, prefix)
    key = ("apilayer", IDR)
    old, new = ENTRIES[key], CacheEntry(Quote(IDR, Decimal("0.0057")), 1_718_000_060.0)
    await mine.put_many({key: old})
    await peer.put_many({key: new})
    assert await mine.get(key) == new
    assert await delete_prefixed(redis, prefix) == 1  # Redis lost it (a restart)
    assert await mine.get(key) == new  # what was seen is kept


async def test_local_copy_is_bounded(redis: Redis, prefix: str) -> None:
    small = store(redis, prefix, max_size=2)
    await small.put_many(ENTRIES)
    assert small.evictions == 1
    assert await small.get(("apilayer", IDR)) == ENTRIES[("apilayer", IDR)]  # Redis has it


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"not json", "not a cache entry"),
        (b'{"v": 3}', "format version 3, expected 2"),
        (
            b'{"v":1,"pair":"IDR/RUB","close":0.005654,"bid":null,"ask":null,"source":"","fetched_at":1}',
            "price 0.005654 is not a string",
        ),
        (
            b'{"v":1,"pair":"IDR/RUB","close":"NaN","bid":null,"ask":null,"source":"","fetched_at":1}',
            "price 'NaN' is not finite",
        ),
        (
            b'{"v":1,"pair":"IDR/RUB","close":"x","bid":null,"ask":null,"source":"","fetched_at":1}',
            "price 'x' is not a number",
        ),
        (
            b'{"v":1,"pair":"USD/RUB","close":"1","bid":null,"ask":null,"source":"","fetched_at":1}',
            "holds USD/RUB",
        ),
    ],
)
async def test_unreadable_entries_are_logged_and_ignored(
    redis: Redis, prefix: str, raw: bytes, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    await redis.set(f"{prefix}rates:apilayer:IDR/RUB", raw)
    with caplog.at_level(logging.WARNING, "engine.rates"):
        assert await store(redis, prefix).get(("apilayer", IDR)) is None
    [message] = caplog.messages
    assert message.startswith(
        f"rates: ignoring unreadable cache entry {prefix}rates:apilayer:IDR/RUB: {reason}"
    )


def test_encode_decode_without_redis() -> None:
    for entry in ENTRIES.values():
        assert decode_entry(encode_entry(entry)) == entry
    with pytest.raises(ValueError, match="fetched_at True is not a number"):
        decode_entry(
            b'{"v":1,"pair":"A/B","close":"1","bid":null,"ask":null,"source":"","fetched_at":true}'
        )


async def test_redis_down_degrades_to_the_local_copy(caplog: pytest.LogCaptureFixture) -> None:
    backend = create_redis_rates_backend(NOWHERE, make_config())
    try:
        with caplog.at_level(logging.DEBUG, "engine.rates"):
            await backend.store.put_many(ENTRIES)  # no exception
            for key, entry in ENTRIES.items():
                assert await backend.store.get(key) == entry
            assert not await backend.ping()
    finally:
        await backend.close()
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1  # once per outage, not once per quote
    assert warnings[0].startswith(
        "rates: Redis unavailable (writing 3 entries): ConnectionError: "
    )
    assert warnings[0].endswith("; each replica caches and fetches on its own, next try in 5 s")
