"""The Redis tests share a server with a developer's data: they clean up their prefix only."""

from __future__ import annotations

import uuid

from redis_scratch import delete_prefixed, glob_escape, scratch_prefix, scratch_redis


async def test_cleanup_deletes_the_tests_keys_and_no_other() -> None:
    prefix = scratch_prefix()
    # Keys that are not the test's in the same database: the prefix without its colon, one
    # that shares its first characters, another test's.
    outside = [prefix[:-1], f"{prefix[:-1]}x:key", f"{scratch_prefix()}key"]
    async with scratch_redis(prefix) as redis:
        for key in outside:
            await redis.set(key, "not the test's", px=60_000)
        try:
            async with scratch_redis(prefix) as scratch:  # what the ``redis`` fixture does
                pipe = scratch.pipeline(transaction=False)
                for n in range(1234):  # more than one SCAN page and one DEL batch
                    pipe.set(f"{prefix}key:{n}", n, px=60_000)
                await pipe.execute()
            assert [key async for key in redis.scan_iter(match=f"{prefix}*")] == []
            assert [await redis.get(key) for key in outside] == [b"not the test's"] * 3
        finally:
            await redis.delete(*outside)


async def test_a_prefix_is_matched_literally() -> None:
    prefix, other = f"test:[o]*?{uuid.uuid4().hex}:", f"test:o-{uuid.uuid4().hex}:"
    assert glob_escape("a*b?c[d]^e-f\\g") == "a\\*b\\?c\\[d\\]\\^e\\-f\\\\g"
    async with scratch_redis(other) as redis:
        await redis.set(f"{prefix}key", 1, px=60_000)
        await redis.set(f"{other}key", 2, px=60_000)
        assert await delete_prefixed(redis, prefix) == 1
        assert await redis.get(f"{other}key") == b"2"
