"""Redis hiccups cost an admin seconds, not a minute; Redis losing its data costs a restart.

A polling bot on a private redis-server (a free port, nothing kept on disk), so the test may
pause it (SIGSTOP: a frozen VM, a fork for a snapshot, a failover) and restart it (every key
gone, like a crash without persistence).
"""

from __future__ import annotations

import asyncio
import re
import signal
import time
from collections.abc import Iterator

import pytest
import redis
from test_e2e_redis import RedisServer

from tests.e2e.fake_telegram import FakeTelegram
from tests.e2e.harness import ADMINS, BotLauncher, BotProcess, Person, assert_no_secrets

ERROR_LINE = re.compile(r"^\S+ \S+ (ERROR|CRITICAL) .*$", re.MULTILINE)
PAUSE_SECONDS = 3.0
# What an admin may wait for an answer once Redis answers again.
ANSWER_WITHIN = 5.0


class PausableRedis(RedisServer):
    """A throwaway redis-server that a test may pause, resume and restart (empty)."""

    def pause(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def restart(self) -> None:
        """Stop and start again on the same port: every key is gone."""
        self.stop()
        self.start()

    def keys(self, pattern: str) -> list[str]:
        client = redis.Redis.from_url(self.url, socket_timeout=2, decode_responses=True)
        try:
            return sorted(client.scan_iter(match=pattern))
        finally:
            client.close()


@pytest.fixture(scope="module")
def own_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PausableRedis]:
    server = PausableRedis(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def redis_bot(own_launcher: BotLauncher, own_redis: PausableRedis) -> BotProcess:
    return own_launcher.start(REDIS_URL=own_redis.url)


async def test_a_paused_redis_costs_seconds_not_a_minute(
    own_tg: FakeTelegram, own_redis: PausableRedis, redis_bot: BotProcess
) -> None:
    admin = Person(own_tg, ADMINS[0])
    await admin.open_step("margin")
    own_redis.pause()
    paused_at = time.monotonic()
    try:
        admin.send("2")  # handled while Redis does not answer
        notice = await admin.sees("Что-то пошло не так", timeout=20)
        assert [b for row in notice.buttons for b in row]  # Retry / New quote offered
        await asyncio.sleep(max(0.0, PAUSE_SECONDS - (time.monotonic() - paused_at)))
    finally:
        own_redis.resume()
    # Redis kept everything: the admin types the margin again and goes on.
    typed = time.monotonic()
    admin.send("2")
    await admin.sees_screen("amount", timeout=30)
    waited = time.monotonic() - typed
    print(f"answered {waited:.2f} s after Redis came back")
    assert waited < ANSWER_WITHIN, f"the admin waited {waited:.1f} s after Redis came back"
    admin.send("1000")
    card = await admin.sees_screen("result")
    assert "Клиент получает: 11,49 USDT" in card.norm
    assert admin.refusals() == []
    assert redis_bot.alive
    # no update left a lock behind (each is released as its update ends, just after the
    # card is sent)
    await own_tg.wait_for(lambda: own_redis.keys("fsm:*:lock") == [], 3, "the locks released")
    assert_no_secrets(redis_bot.log())


async def test_redis_that_lost_its_data_restarts_the_dialog_politely(
    own_tg: FakeTelegram, own_redis: PausableRedis, redis_bot: BotProcess
) -> None:
    admin = Person(own_tg, ADMINS[1])
    await admin.open_step("amount")
    own_redis.restart()  # every dialog's state is gone
    mark = own_tg.mark()
    typed = time.monotonic()
    admin.send("1000")
    notice = await admin.sees("Открытого расчёта нет", timeout=10)
    screen = await admin.sees_screen("source", timeout=5)
    print(f"restart notice {time.monotonic() - typed:.2f} s after the typed amount")
    assert not [c for c in own_tg.calls(since=mark) if c.status not in (0, 200)]
    # the first step, with its buttons: the admin goes on from there
    assert [b for row in screen.buttons for b in row]
    assert notice.message_id <= screen.message_id
    card = await admin.quote_from(screen, "RUB", "USDT", margin="2", amount="1000")
    assert "Клиент получает: 11,49 USDT" in card.norm
    await admin.all_clicks_answered()
    assert admin.refusals() == []
    assert redis_bot.alive
