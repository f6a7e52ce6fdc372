"""A double tap on the kept result card acts once: on one polling process, and on two webhook
replicas sharing one Redis (the two taps go to different replicas).

The second tap is queued 3 ms or 200 ms after the first with the card as the client showed
it then (``user_clicks_again``: the bot's edit had not reached the client). Afterwards the
card still shows the quote without a keyboard, and the chat has one live keyboard: the
window the first tap opened.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from test_e2e_redis import SECRET, RedisServer, RoundRobin

from tests.e2e.fake_providers import FakeProviders
from tests.e2e.fake_telegram import FakeTelegram
from tests.e2e.harness import ADMINS, BotLauncher, BotProcess, Person, free_port

NEW_DEAL, BACK = "Новый расчёт", "Назад"
OPENS = {NEW_DEAL: "source", BACK: "amount"}


async def double_tap(tg: FakeTelegram, admin: Person, label: str, gap: float, taps: int) -> None:
    card = await admin.quote("RUB", "USDT", margin="2", amount="1000")
    assert "Клиент получает: 11,49 USDT" in card.norm, tg.transcript(admin.user_id)
    first = admin.click(card, label)
    for _ in range(taps - 1):
        await asyncio.sleep(gap)
        admin.clicked.append(tg.user_clicks_again(first))
    await admin.all_clicks_answered()  # aiogram-dialog answers a tap after showing its window
    await asyncio.sleep(0.2)
    messages = tg.bot_messages(admin.user_id)
    [kept] = [m for m in messages if m.message_id == card.message_id]
    assert "Клиент получает: 11,49 USDT" in kept.norm, tg.transcript(admin.user_id)
    assert kept.buttons == []
    live = [m for m in messages if m.buttons]
    assert len(live) == 1, tg.transcript(admin.user_id)
    assert admin.screens[OPENS[label]] in live[0].norm, tg.transcript(admin.user_id)
    assert live[0].message_id > card.message_id
    assert [m for m in messages if m.message_id > card.message_id] == live
    assert admin.refusals() == []


@pytest.mark.parametrize(
    ("label", "gap", "admin"),
    [
        (NEW_DEAL, 0.003, ADMINS[14]),
        (NEW_DEAL, 0.2, ADMINS[15]),
        (BACK, 0.003, ADMINS[16]),
        (BACK, 0.2, ADMINS[17]),
    ],
)
async def test_double_tap_on_one_process(
    tg: FakeTelegram, bot: BotProcess, label: str, gap: float, admin: int
) -> None:
    await double_tap(tg, Person(tg, admin), label, gap, taps=2)


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def replicas(
    tmp_path_factory: pytest.TempPathFactory,
    own_tg: FakeTelegram,
    own_upstreams: FakeProviders,
    redis_server: RedisServer,
) -> Iterator[RoundRobin]:
    proxy = RoundRobin().start()
    launch = BotLauncher(
        tmp_path_factory.mktemp("e2e-double-tap"),
        own_tg,
        own_upstreams,
        edits={"mode: polling": "mode: webhook"},
    )
    for _ in range(2):
        port = free_port()
        launch.start(
            ready="setWebhook",
            PORT=str(port),
            REDIS_URL=redis_server.url,
            WEBHOOK_URL=proxy.url,
            WEBHOOK_SECRET=SECRET,
        )
        proxy.backends.append(f"http://127.0.0.1:{port}")
    yield proxy
    launch.stop_all()
    proxy.stop()


@pytest.mark.parametrize(
    ("label", "gap", "taps", "admin"),
    [
        (NEW_DEAL, 0.003, 2, ADMINS[0]),
        (NEW_DEAL, 0.2, 3, ADMINS[1]),
        (BACK, 0.003, 3, ADMINS[2]),
        (BACK, 0.2, 2, ADMINS[3]),
    ],
)
async def test_double_tap_across_two_replicas(
    own_tg: FakeTelegram, replicas: RoundRobin, label: str, gap: float, taps: int, admin: int
) -> None:
    handled = len(replicas.handled)
    await double_tap(own_tg, Person(own_tg, admin), label, gap, taps)
    # the taps went to both replicas (round robin), and still only one acted
    assert set(replicas.handled[handled:][-taps:]) == set(replicas.backends)
