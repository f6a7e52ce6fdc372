"""Webhook mode (``bot.mode: webhook``): the fake Telegram POSTs updates to the bot."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tests.e2e.fake_providers import FakeProviders
from tests.e2e.fake_telegram import FakeTelegram, post_update
from tests.e2e.harness import ADMINS, BotLauncher, BotProcess, Person, assert_no_secrets, free_port

SECRET = "e2e-webhook-Secret_1"
PATH = "/telegram/webhook"  # the default bot.webhook_path


@pytest.fixture(scope="module")
def hook_launcher(
    tmp_path_factory: pytest.TempPathFactory, own_tg: FakeTelegram, own_upstreams: FakeProviders
) -> Iterator[BotLauncher]:
    launch = BotLauncher(
        tmp_path_factory.mktemp("e2e-webhook"),
        own_tg,
        own_upstreams,
        edits={"mode: polling": "mode: webhook"},
    )
    yield launch
    launch.stop_all()


@pytest.fixture(scope="module")
def hook_bot(hook_launcher: BotLauncher) -> BotProcess:
    port = free_port()
    return hook_launcher.start(
        ready="setWebhook",
        PORT=str(port),
        WEBHOOK_URL=f"http://127.0.0.1:{port}",
        WEBHOOK_SECRET=SECRET,
    )


def webhook_url(tg: FakeTelegram) -> str:
    [call] = [c for c in tg.calls("setWebhook") if c.ok]
    return str(call.params["url"])


async def test_quote_over_the_webhook(own_tg: FakeTelegram, hook_bot: BotProcess) -> None:
    tg = own_tg
    [call] = [c for c in tg.calls("setWebhook") if c.ok]
    assert call.params["url"].endswith(PATH)
    assert call.params["secret_token"] == SECRET
    admin = Person(tg, ADMINS[0])
    card = await admin.quote("RUB", "USDT", margin="2", amount="1000")
    assert "Клиент получает: 11,49 USDT" in card.norm
    await admin.all_clicks_answered()
    assert admin.refusals() == []
    assert tg.calls("getUpdates") == []


async def test_an_update_without_the_secret_is_refused(
    own_tg: FakeTelegram, hook_bot: BotProcess
) -> None:
    tg = own_tg
    url = webhook_url(tg)
    intruder = ADMINS[1]  # an admin's id, forged by someone who does not know the secret
    for secret in ("wrong-secret", None):
        status, _ = await post_update(url, tg.new_message_update(intruder, "/admin_bot"), secret)
        assert status in (401, 403), status
    await asyncio.sleep(0.8)
    assert tg.bot_messages(intruder) == []


async def test_webhook_logs_have_no_secrets(own_tg: FakeTelegram, hook_bot: BotProcess) -> None:
    admin = Person(own_tg, ADMINS[2])
    admin.send("/help")
    await admin.sees("/admin_bot")
    await asyncio.sleep(0.3)
    log = hook_bot.log()
    assert_no_secrets(log)
    assert SECRET not in log
