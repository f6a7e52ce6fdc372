"""Two webhook replicas on one Redis and one PostgreSQL journal: exactly one row per quote
shown, none lost, none twice; the database goes away mid-session (a TCP proxy in front
of it is cut): quotes are still shown at once, both replicas say ``journal: degraded`` on
/health/ready and count the failures, and every quote is written once it is back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from decimal import Decimal

import aiohttp
import pytest
from test_e2e_redis import SECRET, RedisServer, RoundRobin

from tests.e2e.fake_providers import FakeProviders
from tests.e2e.fake_telegram import FakeTelegram
from tests.e2e.harness import ADMINS, BotLauncher, BotProcess, Person, free_port
from tests.pgscratch import ScratchDatabase, TcpProxy

PASSWORD = "journal-S3cret-pw"


class Replica:
    def __init__(self, process: BotProcess, port: int) -> None:
        self.process = process
        self.port = port

    async def ready(self) -> dict:  # type: ignore[type-arg]
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{self.port}/health/ready") as response,
        ):
            return await response.json()  # type: ignore[no-any-return]

    async def metric(self, name: str) -> float:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{self.port}/metrics") as response,
        ):
            text = await response.text()
        for line in text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        raise AssertionError(f"{name} not in /metrics")


@pytest.fixture(scope="module")
def database() -> Iterator[ScratchDatabase]:
    scratch = ScratchDatabase().create()
    yield scratch
    scratch.drop()


@pytest.fixture(scope="module")
def pg_proxy(database: ScratchDatabase) -> Iterator[TcpProxy]:
    proxy = TcpProxy(database.port).start()
    yield proxy
    proxy.stop()


@pytest.fixture(scope="module")
def replicas(
    tmp_path_factory: pytest.TempPathFactory,
    own_tg: FakeTelegram,
    own_upstreams: FakeProviders,
    database: ScratchDatabase,
    pg_proxy: TcpProxy,
) -> Iterator[tuple[RoundRobin, list[Replica]]]:
    redis_server = RedisServer()
    redis_server.start()
    balancer = RoundRobin().start()
    launch = BotLauncher(
        tmp_path_factory.mktemp("e2e-journal-replicas"),
        own_tg,
        own_upstreams,
        edits={"mode: polling": "mode: webhook"},
    )
    found = []
    try:
        for _ in range(2):
            port = free_port()
            process = launch.start(
                ready="setWebhook",
                PORT=str(port),
                REDIS_URL=redis_server.url,
                WEBHOOK_URL=balancer.url,
                WEBHOOK_SECRET=SECRET,
                # The server trusts local connections, so the password is not checked;
                # it is there to be kept out of the logs.
                DATABASE_URL=database.url_via(pg_proxy.port).replace(
                    "postgres@", f"postgres:{PASSWORD}@"
                ),
            )
            balancer.backends.append(f"http://127.0.0.1:{port}")
            found.append(Replica(process, port))
        yield balancer, found
    finally:
        launch.stop_all()
        balancer.stop()
        redis_server.stop()


def rows(database: ScratchDatabase) -> list[dict]:  # type: ignore[type-arg]
    return [
        dict(r)
        for r in database.fetch(
            "SELECT entry_id, quote_no, admin_id, amount_given FROM journal_quotes ORDER BY id"
        )
    ]


async def wait_rows(database: ScratchDatabase, count: int, seconds: float = 20) -> list[dict]:  # type: ignore[type-arg]
    deadline = time.monotonic() + seconds
    while len(found := rows(database)) < count:
        assert time.monotonic() < deadline, f"{len(found)} rows, {count} expected"
        await asyncio.sleep(0.1)
    return found


async def test_one_row_per_quote_across_two_replicas(
    own_tg: FakeTelegram,
    database: ScratchDatabase,
    replicas: tuple[RoundRobin, list[Replica]],
) -> None:
    balancer, _ = replicas
    anna, boris = Person(own_tg, ADMINS[0]), Person(own_tg, ADMINS[1])
    typed: list[tuple[int, Decimal]] = []
    for i in range(3):
        for admin in (anna, boris):
            amount = 1000 + 10 * i + admin.user_id % 2
            card = await admin.quote("RUB", "USDT", margin="2", amount=str(amount))
            assert "Клиент получает" in card.norm, own_tg.transcript(admin.user_id)
            typed.append((admin.user_id, Decimal(amount)))
            admin.send(f"/q {amount + 5} rub usdt 2")
            await admin.sees("Клиент получает")
            typed.append((admin.user_id, Decimal(amount + 5)))
    found = await wait_rows(database, len(typed))
    await asyncio.sleep(1.0)  # a duplicate would arrive now
    found = rows(database)
    assert sorted((r["admin_id"], r["amount_given"]) for r in found) == sorted(typed)
    assert len({r["entry_id"] for r in found}) == len(found) == 12
    assert set(balancer.handled) == set(balancer.backends)  # both replicas served quotes
    await anna.all_clicks_answered()
    await boris.all_clicks_answered()


async def test_the_database_away_mid_session(
    own_tg: FakeTelegram,
    database: ScratchDatabase,
    pg_proxy: TcpProxy,
    replicas: tuple[RoundRobin, list[Replica]],
) -> None:
    _, bots = replicas
    before = len(rows(database))
    admin = Person(own_tg, ADMINS[2])
    pg_proxy.cut()
    try:
        for amount in ("1111", "2222", "3333", "4444"):
            started = time.monotonic()
            admin.send(f"/q {amount} rub usdt 2")
            await admin.sees("Клиент получает", timeout=5)
            assert time.monotonic() - started < 3  # the card does not wait for the journal
        # "Клиент получает" also matches the previous card, edited when the next quote takes
        # its keyboard: wait for all four rows, not only for the first degraded state.
        deadline = time.monotonic() + 10
        while True:
            states = [await bot.ready() for bot in bots]
            if all(s["journal"]["status"] == "degraded" for s in states) and (
                sum(s["journal"]["waiting"] for s in states) == 4
            ):
                break
            assert time.monotonic() < deadline, states
            await asyncio.sleep(0.2)
        assert all(s["status"] == "ready" for s in states)  # quotes go on: still ready
        assert (
            sum([await bot.metric("crypto_helper_journal_write_failures_total") for bot in bots])
            >= 2
        )
        admin.send("/history")
        assert "Журнал сейчас недоступен" in (await admin.sees("Журнал")).norm
    finally:
        pg_proxy.restore()
    found = await wait_rows(database, before + 4, seconds=40)
    mine = sorted(r["amount_given"] for r in found if r["admin_id"] == admin.user_id)
    assert mine == [Decimal("1111.00"), Decimal("2222.00"), Decimal("3333.00"), Decimal("4444.00")]
    deadline = time.monotonic() + 10
    while [s for bot in bots if (s := await bot.ready())["journal"]["status"] != "ok"]:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.2)
    logs = "\n".join(bot.process.log() for bot in bots)
    assert "WARNING engine.journal.writer: journal: writing 1 quote(s) failed (" in logs
    assert "journal: writing again" in logs
    assert "Traceback" not in logs
    assert PASSWORD not in logs and "journal: postgresql at 127.0.0.1:" in logs
