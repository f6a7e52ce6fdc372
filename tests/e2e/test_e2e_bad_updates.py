"""One bad update never stops the bot (polling), and errors are for errors (issue 10 §1, §6).

Its own bot process and fake Telegram, so that "no ERROR in the log" is about these
scenarios alone.
"""

from __future__ import annotations

import re
import time
from typing import Any

import aiohttp
import pytest

from tests.e2e.fake_telegram import BLOCKED_BY_USER, FakeTelegram
from tests.e2e.harness import ADMINS, BotLauncher, BotProcess, Person, assert_no_secrets

METRICS_TOKEN = "e2e-metrics-Token_1"
FAILURE_NOTICE = "Что-то пошло не так"


def poison_message(tg: FakeTelegram, user_id: int) -> dict[str, Any]:
    """A message forwarded from an origin type this aiogram does not know (Telegram adds
    them with Bot API releases)."""
    update = tg.new_message_update(user_id, "forwarded: my card 4276 1234")
    update["message"]["forward_origin"] = {
        "type": "future_origin",
        "date": int(time.time()),
        "sender_name": "Somebody Private",
    }
    return tg.inject_raw_update(update)


async def metrics(process: BotProcess) -> str:
    url = f"http://127.0.0.1:{process.env['PORT']}/metrics"
    headers = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as resp:
        assert resp.status == 200
        return await resp.text()


def assert_quiet(log: str) -> None:
    """No ERROR line and no traceback in the log."""
    assert not re.search(r" (ERROR|CRITICAL) ", log), log[-3000:]
    assert "Traceback" not in log, log[-3000:]
    assert_no_secrets(log)


@pytest.fixture(scope="module")
def polling_bot(own_launcher: BotLauncher) -> BotProcess:
    return own_launcher.start(METRICS_TOKEN=METRICS_TOKEN)


async def test_a_poison_update_is_skipped_and_the_next_message_answered(
    own_tg: FakeTelegram, polling_bot: BotProcess
) -> None:
    tg = own_tg
    admin = Person(tg, ADMINS[0])
    poison = poison_message(tg, admin.user_id)["update_id"]
    # Alone in its batch: aiogram yields nothing, and the next getUpdates still confirms it.
    await tg.wait_for(
        lambda: [c for c in tg.calls("getUpdates") if int(c.params.get("offset", 0)) > poison],
        3,
        f"a getUpdates with offset past {poison}",
    )
    started = time.monotonic()
    admin.send("/help")
    await admin.sees("/admin_bot", timeout=3)
    assert time.monotonic() - started < 2.5
    assert tg.pending_updates() == 0
    log = polling_bot.log()
    [line] = [x for x in log.splitlines() if f"update {poison} skipped" in x]
    assert re.search(
        rf"WARNING engine\.bot\.updates: update {poison} skipped \(invalid\): aiogram [\d.]+ "
        r"cannot read this message: message\.forward_origin: union_tag_invalid "
        r"\(tag 'future_origin'\)$",
        line,
    ), line
    assert "4276" not in log and "Somebody Private" not in log
    assert 'crypto_helper_updates_skipped_total{reason="invalid"} 1.0' in await metrics(
        polling_bot
    )
    assert_quiet(log)


async def test_a_poison_update_between_two_messages_holds_neither_up(
    own_tg: FakeTelegram, polling_bot: BotProcess
) -> None:
    tg = own_tg
    first, second = Person(tg, ADMINS[1]), Person(tg, ADMINS[2])
    tg.slow_down("getUpdates", 0.3)  # so that the three arrive in one batch
    try:
        first.send("/help")
        poison = poison_message(tg, first.user_id)["update_id"]
        second.send("/help")
        await first.sees("/admin_bot", timeout=3)
        await second.sees("/admin_bot", timeout=3)
    finally:
        tg.slow_down("getUpdates", 0)
    assert f"update {poison} skipped (invalid)" in polling_bot.log()
    assert_quiet(polling_bot.log())


async def test_a_click_without_data_is_answered_without_a_notice(
    own_tg: FakeTelegram, polling_bot: BotProcess
) -> None:
    tg = own_tg
    admin = Person(tg, ADMINS[3])
    screen = await admin.open_step("source")  # a dialog open: aiogram-dialog's path
    query = tg.user_clicks_without_data(admin.user_id, screen.message_id)
    await tg.wait_for(lambda: tg.callback_answer(query), 3, f"an answer to {query}")
    assert not any(FAILURE_NOTICE in m.norm for m in tg.bot_messages(admin.user_id))
    assert f"callback query {query} from user {admin.user_id} has no data" in polling_bot.log()
    assert_quiet(polling_bot.log())


async def test_a_user_who_blocked_the_bot_is_one_warning_and_no_notice(
    own_tg: FakeTelegram, polling_bot: BotProcess
) -> None:
    tg = own_tg
    admin = Person(tg, ADMINS[4])
    tg.block_bot(admin.user_id)
    mark = tg.mark()
    update = tg.user_sends(admin.user_id, "/help")
    await tg.wait_for_call("sendMessage", chat_id=admin.user_id, since=mark, timeout=3, ok=False)
    await tg.wait_for(
        lambda: f"update {update['update_id']} (user" in polling_bot.log(), 3, "the warning"
    )
    sends = [c for c in tg.calls("sendMessage", since=mark) if c.chat_id == admin.user_id]
    assert [c.status for c in sends] == [403]  # the reply; no failure notice tried after it
    lines = [x for x in polling_bot.log().splitlines() if f"update {update['update_id']}" in x]
    lines = [x for x in lines if "aiogram.event" not in x]  # DEBUG in this log
    assert len(lines) == 1, lines
    assert lines[0].endswith(
        f"WARNING engine.bot: update {update['update_id']} (user {admin.user_id}) not served: "
        f"Telegram refused to write to the user ({BLOCKED_BY_USER})"
    ), lines
    assert_quiet(polling_bot.log())
