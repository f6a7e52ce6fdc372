"""Commands, access control, Telegram's 429 and the log, against the shared bot process."""

from __future__ import annotations

import asyncio
import re

import pytest
import yaml

from tests.e2e.fake_providers import FakeProviders
from tests.e2e.fake_telegram import FakeTelegram
from tests.e2e.harness import ADMINS, ROOT, STRANGER, BotProcess, Person, assert_no_secrets

RATE = re.compile(r"\d+[,.]\d{2,}")


async def test_a_stranger_gets_one_short_reply_and_no_rates(
    tg: FakeTelegram, bot: BotProcess
) -> None:
    stranger = Person(tg, STRANGER)
    mark = tg.mark()
    stranger.send("/admin_bot")
    reply = await stranger.sees(re.compile(r"\S"))
    await asyncio.sleep(1.0)  # and nothing else follows
    calls = [c for c in tg.calls(since=mark) if c.chat_id == STRANGER]
    assert [c.method for c in calls] == ["sendMessage"], [str(c) for c in calls]
    assert tg.bot_messages(STRANGER) == [reply]
    assert reply.reply_markup is None
    assert len(reply.text) <= 200
    assert not RATE.search(reply.norm), reply.norm


@pytest.mark.parametrize("step", ["source", "target", "margin", "amount"])
async def test_cancel_ends_the_dialog_from_any_step(
    tg: FakeTelegram, bot: BotProcess, step: str
) -> None:
    admin = Person(tg, ADMINS[10 + ["source", "target", "margin", "amount"].index(step)])
    await admin.open_step(step)
    admin.send("/cancel")
    reply = await admin.sees(re.compile("отмен", re.IGNORECASE))
    assert admin.screens["margin"] not in reply.norm
    # The dialog is over: a number typed now is neither a margin nor an amount.
    mark = tg.mark()
    admin.send("2")
    await asyncio.sleep(0.8)
    later = [m.norm for m in tg.bot_messages(admin.user_id) if m.seq > mark]
    assert not any(
        admin.screens[s] in text for text in later for s in ("amount", "result", "margin")
    ), later
    assert admin.refusals() == []


async def test_help_replies_with_text(tg: FakeTelegram, bot: BotProcess) -> None:
    admin = Person(tg, ADMINS[20])
    admin.send("/help")
    reply = await admin.sees("/admin_bot")
    assert len(reply.text) > 40
    assert admin.refusals() == []


async def test_rates_lists_the_configured_pairs_with_their_source(
    tg: FakeTelegram, bot: BotProcess
) -> None:
    admin = Person(tg, ADMINS[21])
    admin.send("/rates")
    reply = await admin.sees("85,30")
    lines = reply.norm.splitlines()

    def line(pattern: str) -> str:
        found = [x for x in lines if re.search(pattern, x)]
        assert found, f"no line matching {pattern!r} in:\n{reply.norm}"
        return found[0]

    assert "rapira" in line(r"1 USDT = 85,30 RUB")
    assert "apilayer" in line(r"1 USD = 81,50 RUB")  # 1 / 0.01227 = 81.4996
    assert "apilayer" in line(r"1 IDR = 0,0056542 RUB")
    assert "apilayer" in line(r"1 THB = 2,6853 RUB")  # 1 / 0.3724 = 2.68528
    assert admin.refusals() == []


async def test_commands_are_set_per_locale(tg: FakeTelegram, bot: BotProcess) -> None:
    config = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    for locale in ("ru", "en"):
        expected = [
            {"command": c["command"], "description": c["description"][locale]}
            for c in config["bot"]["commands"]
        ]
        assert tg.commands_for(locale) == expected, locale
    calls = [c for c in tg.calls("setMyCommands") if c.ok]
    assert {c.params.get("language_code") for c in calls} >= {"ru", "en"}


async def test_telegram_429_is_waited_out(tg: FakeTelegram, bot: BotProcess) -> None:
    admin = Person(tg, ADMINS[22])
    tg.fail_next("sendMessage", 1, retry_after=1)
    admin.send("/admin_bot")
    await admin.sees_screen("source", timeout=15)
    sends = tg.calls("sendMessage", chat_id=admin.user_id)
    assert [c.status for c in sends] == [429, 200]
    first_end = sends[0].finished_at
    assert first_end is not None
    assert sends[1].at - first_end >= 0.9, "the bot did not wait retry_after"
    assert admin.refusals() == []


async def test_polling_survives_telegram_5xx(tg: FakeTelegram, bot: BotProcess) -> None:
    admin = Person(tg, ADMINS[30])
    mark = tg.mark()
    tg.fail_next("getUpdates", 2, status=502)
    await tg.wait_for(
        lambda: len([c for c in tg.calls("getUpdates", since=mark) if c.status == 502]) == 2,
        15,
        "two failed getUpdates",
    )
    admin.send("/admin_bot")  # polling goes on (with backoff) and picks this up
    await admin.sees_screen("source", timeout=20)
    assert bot.alive


async def test_logs_never_contain_the_token_or_the_api_key(
    tg: FakeTelegram, upstreams: FakeProviders, bot: BotProcess
) -> None:
    # Make sure both secrets have been used: an APILayer request and Telegram traffic.
    await tg.wait_for(lambda: upstreams.calls("apilayer"), 10, "an APILayer request")
    admin = Person(tg, ADMINS[23])
    card = await admin.quote("RUB", "THB", margin="1", amount="1000")
    assert admin.screens["result"] in card.norm
    await asyncio.sleep(0.3)  # let the log catch up
    assert_no_secrets(bot.log())
