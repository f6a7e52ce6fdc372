"""Webhook mode: a body that is not an update is a 400 (not a 500 with a traceback); an
update aiogram cannot read is a 200 and skipped, so Telegram does not send it again."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from test_e2e_bad_updates import METRICS_TOKEN, assert_quiet, metrics, poison_message

from tests.e2e.fake_providers import FakeProviders
from tests.e2e.fake_telegram import FakeTelegram
from tests.e2e.harness import ADMINS, BotLauncher, BotProcess, Person, free_port

SECRET = "e2e-webhook-Secret_2"
PATH = "/telegram/webhook"


@pytest.fixture(scope="module")
def hook_bot(
    tmp_path_factory: pytest.TempPathFactory, own_tg: FakeTelegram, own_upstreams: FakeProviders
) -> Iterator[BotProcess]:
    launch = BotLauncher(
        tmp_path_factory.mktemp("e2e-bad-webhook"),
        own_tg,
        own_upstreams,
        edits={"mode: polling": "mode: webhook"},
    )
    port = free_port()
    yield launch.start(
        ready="setWebhook",
        PORT=str(port),
        WEBHOOK_URL=f"http://127.0.0.1:{port}",
        WEBHOOK_SECRET=SECRET,
        METRICS_TOKEN=METRICS_TOKEN,
    )
    launch.stop_all()


async def post_raw(process: BotProcess, body: bytes, content_type: str) -> tuple[int, str]:
    url = f"http://127.0.0.1:{process.env['PORT']}{PATH}"
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": content_type}
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body, headers=headers) as resp,
    ):
        return resp.status, await resp.text()


@pytest.mark.parametrize(
    ("body", "answer"),
    [
        (b'{"update_id": 1, "message": ', "not JSON"),
        (b"\xff\xfe\x00garbage", "not JSON"),
        (b'{"hello": "world"}', "not a Telegram update"),
        (b"[1, 2, 3]", "not a Telegram update"),
        (b'{"update_id": "12"}', "not a Telegram update"),
    ],
)
async def test_a_body_that_is_not_an_update_is_400(
    hook_bot: BotProcess, body: bytes, answer: str
) -> None:
    status, text = await post_raw(hook_bot, body, "application/json")
    assert (status, text) == (400, answer)
    assert hook_bot.alive
    assert_quiet(hook_bot.log())


async def test_an_update_aiogram_cannot_read_is_200_and_skipped(
    own_tg: FakeTelegram, hook_bot: BotProcess
) -> None:
    tg = own_tg
    admin = Person(tg, ADMINS[0])
    # Delivered by the fake as Telegram would: a 200 confirms it, anything else is retried.
    poison = poison_message(tg, admin.user_id)["update_id"]
    started = time.monotonic()
    admin.send("/help")
    await admin.sees("/admin_bot", timeout=3)
    assert time.monotonic() - started < 2.5
    assert tg.pending_updates() == 0
    # No "Wrong response from the webhook": the bot answered every delivery with a 2xx.
    status, info = await tg.dispatch("getWebhookInfo", {})
    assert status == 200 and "last_error_message" not in info["result"], info
    log = hook_bot.log()
    assert re.search(
        rf"WARNING engine\.bot\.updates: update {poison} skipped \(invalid\): aiogram [\d.]+ "
        r"cannot read this message: message\.forward_origin: union_tag_invalid",
        log,
    ), log[-2000:]
    assert "4276" not in log and "Somebody Private" not in log
    text = await metrics(hook_bot)
    assert 'crypto_helper_updates_skipped_total{reason="invalid"} 1.0' in text
    assert_quiet(log)


async def test_an_unknown_update_part_posted_by_hand_is_200(hook_bot: BotProcess) -> None:
    """A whole update type newer than this aiogram: kept as an extra field, not handled."""
    update: dict[str, Any] = {"update_id": 990001, "business_future_part": {"id": 1}}
    status, _ = await post_raw(hook_bot, json.dumps(update).encode(), "application/json")
    assert status == 200
    assert_quiet(hook_bot.log())
