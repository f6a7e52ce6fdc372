"""Rolling a change across two replicas sharing Redis (webhook behind a round-robin proxy,
live rates), as the README says: edit, then ``crypto-helper reload`` each replica in turn.
A dialog in progress goes on throughout, whichever replica takes each tap."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from collections.abc import Iterator

import pytest
from test_e2e_redis import SECRET, RedisServer, RoundRobin

from tests.e2e.fake_providers import FakeProviders
from tests.e2e.fake_telegram import FakeTelegram
from tests.e2e.harness import ADMINS, BotLauncher, BotProcess, Person, free_port

SOURCE = "Какую валюту отдаёт клиент?"
TARGET = "Какую валюту клиент получает?"


@pytest.fixture(scope="module")
def rolled(
    tmp_path_factory: pytest.TempPathFactory,
    own_tg: FakeTelegram,
    own_upstreams: FakeProviders,
) -> Iterator[tuple[BotLauncher, list[BotProcess], RoundRobin]]:
    redis_server = RedisServer()
    redis_server.start()
    proxy = RoundRobin().start()
    launch = BotLauncher(
        tmp_path_factory.mktemp("e2e-reload-redis"),
        own_tg,
        own_upstreams,
        edits={"mode: polling": "mode: webhook"},
    )
    try:
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
        yield launch, bots, proxy
    finally:
        launch.stop_all()
        proxy.stop()
        redis_server.stop()


def reload(bot: BotProcess) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("METRICS_TOKEN", "CONFIG_PATH")}
    env["PORT"] = bot.env["PORT"]
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", "reload", "--config", str(bot.config)],
        cwd=bot.config.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_a_change_rolled_replica_by_replica(
    own_tg: FakeTelegram,
    rolled: tuple[BotLauncher, list[BotProcess], RoundRobin],
) -> None:
    launch, (first, second), proxy = rolled
    admin = Person(own_tg, ADMINS[10])
    admin.send("/admin_bot")
    source = await admin.sees(SOURCE)
    # both replicas run the same project folder: one edit is the files of both
    target = launch.config.parent / "templates/ru/target.j2"
    target.write_text(
        target.read_text(encoding="utf-8").replace(TARGET, "Что получает?"), encoding="utf-8"
    )
    done = await asyncio.to_thread(reload, first)
    assert done.returncode == 0, done.stderr
    # meanwhile each replica answers with the set it serves
    handled = len(proxy.handled)
    admin.click(source, r"\bRUB$")
    screen = await admin.sees(re.compile(f"{re.escape(TARGET)}|Что получает"))
    took = proxy.handled[handled]  # the replica the tap went to
    assert ("Что получает?" if took.endswith(first.env["PORT"]) else TARGET) in screen.norm
    done = await asyncio.to_thread(reload, second)
    assert done.returncode == 0, done.stderr
    admin.click(screen, r"\bUSDT$")  # the dialog in Redis goes on, on either replica
    await admin.sees("Введите наценку")
    admin.send("/admin_bot")
    screen = await admin.sees(SOURCE)
    admin.click(screen, r"\bRUB$")
    await admin.sees("Что получает?")  # reloaded everywhere
    admin.send("/admin_bot")
    screen = await admin.sees(SOURCE)
    admin.click(screen, r"\bRUB$")
    await admin.sees("Что получает?")
    assert admin.refusals() == []
    # a rate-side change: each replica builds its rate service on the shared Redis cache
    config = launch.config
    config.write_text(
        config.read_text(encoding="utf-8").replace(
            "RUB: [USDT, USD, EUR, THB, AED, ZAR, IDR]", "RUB: [USDT, USD, EUR, THB, AED, IDR]"
        ),
        encoding="utf-8",
    )
    for bot in (first, second):
        done = await asyncio.to_thread(reload, bot)
        assert done.returncode == 0, done.stderr
    for _ in range(2):  # one answer from each replica
        admin.send("/q 1000 rub zar 2")
        await admin.sees("Понял: 1000 RUB → ZAR")
        admin.send("/q 1000 rub usd 2")
        await admin.sees("Клиент получает:")
    for bot in (first, second):
        assert bot.stop() == 0
        log = bot.log()
        assert "Traceback" not in log and " ERROR " not in log, bot.log_tail()
