"""Where the bot talks and who reads its health, against the real process (issue 10 §7).

In a group an admin's command gets one line asking for a private chat and no rates; a
stranger there gets nothing. With ``METRICS_TOKEN`` set, ``/metrics`` and the detailed
``/health/ready`` need the Bearer token, ``/health/live`` stays open.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import pytest

from tests.e2e.fake_telegram import FakeTelegram
from tests.e2e.harness import ADMINS, STRANGER, BotLauncher, BotProcess

GROUP = -1001234567890
TOKEN = "metrics-token-for-tests"


@pytest.fixture(scope="module")
def guarded_bot(own_launcher: BotLauncher) -> BotProcess:
    return own_launcher.start(METRICS_TOKEN=TOKEN)


def group_message(user_id: int, text: str) -> dict[str, Any]:
    return {
        "message": {
            "message_id": 1,
            "date": int(time.time()),
            "text": text,
            "chat": {"id": GROUP, "type": "supergroup", "title": "Desk"},
            "from": {"id": user_id, "is_bot": False, "first_name": "A", "language_code": "en"},
            "entities": [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}],
        }
    }


async def test_a_group_gets_one_line_and_no_rates(
    own_tg: FakeTelegram, guarded_bot: BotProcess
) -> None:
    tg = own_tg
    tg.open_chat(GROUP)  # the bot was added to the group
    mark = tg.mark()
    tg.inject_raw_update(group_message(STRANGER, "/rates"))
    tg.inject_raw_update(group_message(ADMINS[0], "/rates"))
    tg.inject_raw_update(group_message(ADMINS[0], "/admin_bot"))
    await tg.wait_for(
        lambda: tg.calls("sendMessage", chat_id=GROUP, since=mark),
        10,
        "the bot's answer in the group",
    )
    await asyncio.sleep(1.0)  # and nothing else follows
    sent = tg.calls("sendMessage", chat_id=GROUP, since=mark)
    assert len(sent) == 1, [str(c) for c in sent]
    assert "private chat" in str(sent[0]), str(sent[0])
    assert not [c for c in tg.calls(since=mark) if c.method in ("editMessageText",)]


async def test_metrics_need_the_token_live_does_not(guarded_bot: BotProcess) -> None:
    base = f"http://127.0.0.1:{guarded_bot.env['PORT']}"
    good = {"Authorization": f"Bearer {TOKEN}"}
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{base}/health/live") as live:
            assert live.status == 200
        async with session.get(f"{base}/metrics") as bare:
            assert bare.status == 401
        async with session.get(f"{base}/metrics", headers=good) as metrics:
            assert metrics.status == 200 and "crypto_helper_" in await metrics.text()
        async with session.get(f"{base}/health/ready") as ready:
            assert set(await ready.json()) == {"status"}
        async with session.get(f"{base}/health/ready", headers=good) as detailed:
            assert "directions" in await detailed.json()
    assert TOKEN not in guarded_bot.log()
