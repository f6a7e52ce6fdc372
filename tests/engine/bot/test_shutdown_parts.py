"""Shutdown and Redis locks, piece by piece: InFlightDispatcher, the webhook gate, and
RenewingRedisEventIsolation on the real redis-server at ``REDIS_URL`` (keys of its own,
nothing flushed)."""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiogram import Bot
from aiogram.fsm.storage.base import DefaultKeyBuilder, StorageKey
from aiogram.fsm.storage.memory import SimpleEventIsolation
from aiogram.types import Update
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from engine.bot.inflight import InFlight, InFlightDispatcher, create_webhook_gate
from engine.bot.redis_isolation import RenewingRedisEventIsolation

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")
TOKEN = "42:TEST"


def message_update(update_id: int, user_id: int = 1001) -> Update:
    return Update.model_validate(
        {
            "update_id": update_id,
            "message": {
                "message_id": update_id,
                "date": 0,
                "text": "1000",
                "chat": {"id": user_id, "type": "private"},
                "from": {"id": user_id, "is_bot": False, "first_name": "A"},
            },
        }
    )


def slow_dispatcher(release: asyncio.Event, grace: float = 5.0) -> InFlightDispatcher:
    dispatcher = InFlightDispatcher(
        inflight=InFlight(), grace=grace, events_isolation=SimpleEventIsolation()
    )
    handled: list[int] = []
    dispatcher["handled"] = handled

    @dispatcher.message()
    async def slow(message: Any) -> None:
        await release.wait()
        handled.append(message.message_id)

    return dispatcher


async def test_an_update_queued_behind_the_same_admin_is_counted_and_finished() -> None:
    release = asyncio.Event()
    dispatcher = slow_dispatcher(release)
    bot = Bot(TOKEN)
    tasks = [asyncio.create_task(dispatcher.feed_update(bot, message_update(i))) for i in (1, 2)]
    await asyncio.sleep(0.01)
    # the second one waits on the admin's lock, before any middleware: counted all the same
    assert dispatcher.inflight.count == 2
    shutdown = asyncio.create_task(dispatcher.emit_shutdown())
    await asyncio.sleep(0.05)
    assert not shutdown.done() and dispatcher.inflight.closing
    release.set()
    await shutdown
    assert dispatcher["handled"] == [1, 2]
    await asyncio.gather(*tasks)
    await bot.session.close()


async def test_updates_unfinished_after_the_grace_are_cancelled_and_named(
    caplog: pytest.LogCaptureFixture,
) -> None:
    dispatcher = slow_dispatcher(asyncio.Event(), grace=0.1)
    bot = Bot(TOKEN)
    task = asyncio.create_task(dispatcher.feed_update(bot, message_update(7)))
    await asyncio.sleep(0.01)
    with caplog.at_level(logging.WARNING):
        await dispatcher.emit_shutdown()
    assert task.cancelled()
    assert dispatcher.inflight.count == 0
    assert "update(s) 7 unfinished after 0.1 s are cancelled" in caplog.text
    await bot.session.close()


async def test_the_webhook_answers_503_once_closing() -> None:
    inflight = InFlight()

    async def hook(request: web.Request) -> web.Response:
        return web.json_response({})

    app = web.Application(middlewares=[create_webhook_gate(inflight, "/hook")])
    app.router.add_post("/hook", hook)
    app.router.add_get("/healthz", hook)
    async with TestClient(TestServer(app)) as client:
        assert (await client.post("/hook")).status == 200
        inflight.closing = True
        assert (await client.post("/hook")).status == 503  # Telegram retries it later
        assert (await client.get("/healthz")).status == 200  # other routes go on


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


def key(user_id: int) -> StorageKey:
    return StorageKey(bot_id=42, chat_id=user_id, user_id=user_id)


@pytest.fixture
def keys() -> DefaultKeyBuilder:
    return DefaultKeyBuilder(prefix=f"test-{uuid.uuid4().hex[:8]}", with_destiny=True)


@pytest.mark.slow  # waits for the lock's TTL
async def test_a_lock_left_by_a_failed_update_is_gone_within_its_ttl(
    redis: Redis, keys: DefaultKeyBuilder
) -> None:
    isolation = RenewingRedisEventIsolation(redis, keys, ttl=0.5, renew_every=0.2, wait=5)
    # what a SET that landed after its update gave up leaves behind
    await redis.set(keys.build(key(1), "lock"), "orphan", px=500)
    started = time.monotonic()
    async with isolation.lock(key(1)):
        waited = time.monotonic() - started
    assert 0.2 < waited < 1.0
    assert await redis.exists(keys.build(key(1), "lock")) == 0  # released


@pytest.mark.slow  # waits past the lock's TTL
async def test_a_held_lock_is_renewed_past_its_ttl(redis: Redis, keys: DefaultKeyBuilder) -> None:
    isolation = RenewingRedisEventIsolation(redis, keys, ttl=0.3, renew_every=0.1, wait=0.2)
    async with isolation.lock(key(2)):
        await asyncio.sleep(0.9)  # three TTLs: still ours
        assert await redis.exists(keys.build(key(2), "lock")) == 1
        with pytest.raises(Exception, match=r"held the lock for 0\.2 s"):
            async with isolation.lock(key(2)):
                pass


async def test_a_lock_that_expired_under_its_update_is_a_warning(
    redis: Redis, keys: DefaultKeyBuilder, caplog: pytest.LogCaptureFixture
) -> None:
    isolation = RenewingRedisEventIsolation(redis, keys, ttl=0.3, renew_every=0.2, wait=1)
    with caplog.at_level(logging.WARNING):
        async with isolation.lock(key(3)):
            await redis.delete(keys.build(key(3), "lock"))  # as if it had expired
    assert "had expired when its update finished" in caplog.text


@pytest.mark.slow  # waits for the lock's TTL
async def test_a_lock_lost_under_its_update_is_neither_renewed_nor_freed(
    redis: Redis, keys: DefaultKeyBuilder, caplog: pytest.LogCaptureFixture
) -> None:
    isolation = RenewingRedisEventIsolation(redis, keys, ttl=0.3, renew_every=0.1, wait=1)
    name = keys.build(key(4), "lock")
    with caplog.at_level(logging.WARNING):
        async with isolation.lock(key(4)):
            await redis.set(name, "the next update", px=5000)  # ours expired, and was taken
            await asyncio.sleep(0.25)  # two renewal beats
            assert 4_000 < await redis.pttl(name) <= 5_000  # not renewed for the old holder
        assert await redis.get(name) == b"the next update"  # nor freed
    assert "expired while its update ran; not renewed" in caplog.text
    assert "had expired when its update finished" in caplog.text
    await redis.delete(name)


def test_renewal_must_come_before_expiry(keys: DefaultKeyBuilder) -> None:
    with pytest.raises(ValueError, match="renew_every"):
        RenewingRedisEventIsolation(Redis(), keys, ttl=1, renew_every=1)
