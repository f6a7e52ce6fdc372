"""A flood from one admin stays local: another admin is answered quickly, the flooder gets one
"too fast" notice, and the bot goes on serving both."""

from __future__ import annotations

import time

from tests.e2e.fake_telegram import FakeTelegram
from tests.e2e.harness import ADMINS, BotLauncher, Person

FLOOD = 400
TOO_FAST = "Слишком быстро"


def notices(tg: FakeTelegram, user_id: int) -> list[str]:
    calls = tg.calls("answerCallbackQuery") + tg.calls("sendMessage", chat_id=user_id)
    texts = [str(c.params.get("text", "")) for c in calls]
    return [t for t in texts if TOO_FAST in t]


async def test_a_flood_of_taps_stays_with_the_flooder(
    own_tg: FakeTelegram, own_launcher: BotLauncher
) -> None:
    own_launcher.start()
    flooder, other = Person(own_tg, ADMINS[0]), Person(own_tg, ADMINS[1])
    flooder.send("/admin_bot")
    source = await flooder.sees_screen("source")
    other.send("/admin_bot")
    await other.sees_screen("source")
    for _ in range(FLOOD):
        own_tg.user_clicks(flooder.user_id, source.message_id, r"\bRUB$")
    started = time.monotonic()
    other.send("/admin_bot")
    await other.sees_screen("source", timeout=5)
    other_took = time.monotonic() - started
    # the fake hands out 100 updates per poll: the reply comes with the batches ahead of it,
    # not after the flooder's queue (unthrottled, hundreds of dialog steps under one lock)
    assert other_took < 1.0, own_tg.transcript(other.user_id)
    await own_tg.wait_for(lambda: own_tg.pending_updates() == 0, 10, "the flood delivered")
    # the flooder is told once, and is served again once the burst is over
    assert len(notices(own_tg, flooder.user_id)) == 1
    await flooder.open_step("amount")
    flooder.send("1000")
    assert "Клиент получает: 11,49 USDT" in (await flooder.sees_screen("result")).norm
    assert len(notices(own_tg, flooder.user_id)) == 1
    assert other.refusals() == []
