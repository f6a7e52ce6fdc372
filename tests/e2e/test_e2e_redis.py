"""Scale-out on Redis: two webhook replicas share one Redis; Redis restarts mid-dialog.

A round-robin proxy stands where Telegram's webhook URL points, so one admin's updates
alternate between the replicas, as behind a load balancer. The Redis is a private
redis-server on a free port, so the test may stop and start it.
"""

from __future__ import annotations

import itertools
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
import redis
from aiohttp import web

from tests.e2e.fake_providers import FakeProviders
from tests.e2e.fake_telegram import FakeTelegram
from tests.e2e.harness import ADMINS, BotLauncher, BotProcess, Person, free_port
from tests.e2e.loopback import LoopbackThread

SECRET = "e2e-redis-Secret_1"
PATH = "/telegram/webhook"


class RedisServer:
    """A throwaway redis-server (no persistence: a restart loses everything, like a crash)."""

    def __init__(self, folder: Path | None = None) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed (.ci/run installs it)"
        self.binary = binary
        self.folder = folder  # its working directory (else the test's)
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                *(["--dir", str(self.folder)] if self.folder is not None else []),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url, socket_timeout=0.5)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)
        client.close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)  # a stopped process cannot take SIGTERM
            self.proc.terminate()
            self.proc.wait(10)


class RoundRobin:
    """Forwards each webhook POST to the next replica; remembers who got what."""

    def __init__(self) -> None:
        self.backends: list[str] = []
        self.handled: list[str] = []
        self._turn: Iterator[int] = itertools.count()
        self._thread = LoopbackThread("round-robin")
        self.url = ""

    def start(self) -> RoundRobin:
        self._thread.start()
        app = web.Application()
        app.router.add_post(PATH, self._forward)
        self.url = self._thread.serve(app)
        return self

    async def _forward(self, request: web.Request) -> web.Response:
        backend = self.backends[next(self._turn) % len(self.backends)]
        self.handled.append(backend)
        headers = {
            k: v
            for k, v in request.headers.items()
            if k.lower() in ("content-type", "x-telegram-bot-api-secret-token")
        }
        async with (
            aiohttp.ClientSession() as session,
            session.post(backend + PATH, data=await request.read(), headers=headers) as response,
        ):
            return web.Response(
                status=response.status,
                body=await response.read(),
                content_type=response.content_type,
            )

    def stop(self) -> None:
        self._thread.stop()


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def proxy() -> Iterator[RoundRobin]:
    balancer = RoundRobin().start()
    yield balancer
    balancer.stop()


@pytest.fixture(scope="module")
def replicas(
    tmp_path_factory: pytest.TempPathFactory,
    own_tg: FakeTelegram,
    own_upstreams: FakeProviders,
    redis_server: RedisServer,
    proxy: RoundRobin,
) -> Iterator[list[BotProcess]]:
    launch = BotLauncher(
        tmp_path_factory.mktemp("e2e-redis"),
        own_tg,
        own_upstreams,
        edits={"mode: polling": "mode: webhook"},
    )
    bots = []
    for _ in range(2):
        port = free_port()
        bots.append(
            launch.start(
                ready="setWebhook",
                PORT=str(port),
                REDIS_URL=redis_server.url,
                WEBHOOK_URL=proxy.url,
                WEBHOOK_SECRET=SECRET,
            )
        )
        proxy.backends.append(f"http://127.0.0.1:{port}")
    yield bots
    launch.stop_all()


async def test_one_dialog_across_two_replicas(
    own_tg: FakeTelegram,
    own_upstreams: FakeProviders,
    proxy: RoundRobin,
    replicas: list[BotProcess],
) -> None:
    admin = Person(own_tg, ADMINS[0])
    card = await admin.quote("RUB", "USDT", margin="2", amount="1000")
    assert "Клиент получает: 11,49 USDT" in card.norm, own_tg.transcript(admin.user_id)
    card = await admin.quote("USDT", "THB", margin="1,5", amount="100")
    assert "Клиент получает: 3 128,90 THB" in card.norm, own_tg.transcript(admin.user_id)
    await admin.all_clicks_answered()
    assert admin.refusals() == []
    # both replicas served this one admin, alternately
    assert set(proxy.handled) == set(proxy.backends)
    # the rate cache is shared: one upstream call per provider for both replicas
    assert len(own_upstreams.calls("rapira")) == 1
    assert len(own_upstreams.calls("apilayer")) == 1


async def test_redis_restart_mid_dialog(
    own_tg: FakeTelegram,
    redis_server: RedisServer,
    replicas: list[BotProcess],
) -> None:
    admin = Person(own_tg, ADMINS[1])
    await admin.open_step("margin")
    redis_server.stop()
    admin.send("2")
    notice = await admin.sees("Что-то пошло не так", timeout=15)
    assert [b for row in notice.buttons for b in row]  # Retry / New quote offered
    redis_server.start()
    # Redis is back (empty: it keeps nothing on disk); the admin goes on
    admin.click(notice, "Повторить")
    screen = await admin.sees_screen("source", timeout=15)
    card = await admin.quote_from(screen, "RUB", "USDT", margin="2", amount="1000")
    assert "11,49 USDT" in card.norm
    await admin.all_clicks_answered()
    assert all(bot.alive for bot in replicas)
