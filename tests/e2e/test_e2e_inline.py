"""Inline quotes end to end (issue 11 §5): the real ``crypto-helper run --offline`` against
the fake Telegram with inline mode on. An admin types ``@bot 1000 rub usdt 2`` in a chat with
a client and picks the client's language; a stranger gets no result, only the button that
opens the bot (which then refuses them politely). Numbers are the static rates of
config.yaml (85.30 RUB per USDT), quote numbers random: their shape is asserted."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from pathlib import Path

import aiohttp
import pytest

from tests.e2e.fake_inline import InlineAnswer
from tests.e2e.fake_providers import FakeProviders
from tests.e2e.fake_telegram import FakeTelegram
from tests.e2e.harness import ADMINS, STRANGER, BotLauncher, BotProcess, Person, free_port

CLIENT_CHAT = 9_000_001  # the admin's chat with a client: the bot is not in it
NUMBER = r"[0-9A-HJKMNP-TV-Z]{6}"


@pytest.fixture(scope="module")
def offline_bot(own_launcher: BotLauncher, own_tg: FakeTelegram) -> BotProcess:
    own_tg.set_inline_mode(True, feedback=True)  # @BotFather's /setinline, /setinlinefeedback
    return own_launcher.start(args=("--offline",))


def journal_rows(launcher: BotLauncher, admin: int) -> list[sqlite3.Row]:
    path = launcher.config.parent / "data" / "journal.sqlite3"
    with sqlite3.connect(path) as db:
        db.row_factory = sqlite3.Row
        return list(db.execute("SELECT * FROM journal_quotes WHERE admin_id = ?", (admin,)))


async def quotes_shown(process: BotProcess) -> float:
    """``crypto_helper_quotes_total`` of RUB → USDT on the bot's /metrics."""
    async with aiohttp.ClientSession() as http:
        url = f"http://127.0.0.1:{process.env['PORT']}/metrics"
        async with http.get(url) as resp:
            text = await resp.text()
    found = re.search(r'^crypto_helper_quotes_total\{get="USDT",give="RUB"\} (\S+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


async def ask(tg: FakeTelegram, user_id: int, query: str, language: str = "ru") -> InlineAnswer:
    return await tg.wait_for_inline_answer(tg.user_inline_query(user_id, query, language))


async def test_an_admin_sends_the_client_card_into_a_chat_with_a_client(
    own_tg: FakeTelegram, offline_bot: BotProcess, own_launcher: BotLauncher
) -> None:
    tg, admin = own_tg, ADMINS[0]
    quotes_before = await quotes_shown(offline_bot)
    typing = await ask(tg, admin, "1000 rub usd")  # a pause while typing: answered, not sent
    assert typing.results
    answer = await ask(tg, admin, "1000 rub usdt 2")
    assert (answer.is_personal, answer.cache_time, answer.button_text) == (True, 5, None)
    ru, en = answer.results
    number = ru.id.removesuffix("-ru")
    assert re.fullmatch(NUMBER, number) and en.id == f"{number}-en"
    assert (ru.title, en.title) == (
        "RU · 1\u00a0000,00 RUB → 11,49 USDT",
        "EN · 1,000.00 RUB → 11.49 USDT",
    )
    assert ru.description.startswith("Курс для клиента: 1 USDT = 87,01 RUB · до ")
    assert en.description.startswith("Client rate: 1 USDT = 87.01 RUB · until ")
    assert ru.parse_mode == en.parse_mode == "HTML"
    # The client's card: no market rate, no margin, no source; numbers copy with one tap.
    assert ru.norm.startswith(f"Обмен RUB → USDT\nРасчёт № {number}\n")
    assert "Вы отдаёте: 1000,00 RUB" in ru.norm and "Вы получаете: 11,49 USDT" in ru.norm
    for word in ("Наценка", "85,30", "static", "Источник"):
        assert word not in ru.norm
    assert [
        ru.text.encode("utf-16-le")[2 * e["offset"] : 2 * (e["offset"] + e["length"])].decode(
            "utf-16-le"
        )
        for e in ru.entities
        if e["type"] == "code"
    ] == [number, "1000,00", "11,49", "87,01"]

    # The admin picks the English card: it goes into the chat with the client.
    shown = tg.user_picks_inline_result(answer.query_id, en.id, CLIENT_CHAT)
    assert shown.norm.startswith(f"Exchange RUB → USDT\nQuote No. {number}\n")
    assert tg.bot_messages(CLIENT_CHAT) == [] and tg.messages(admin) == []

    # Sent, so journalled (the admin's own chat: the target is not known); the quote
    # answered while typing was only counted.
    [row] = await tg.wait_for(lambda: journal_rows(own_launcher, admin), 10, "a journal row")
    assert (row["quote_no"], row["chat_id"], row["give"], row["get"]) == (
        number,
        admin,
        "RUB",
        "USDT",
    )
    await asyncio.sleep(0.5)
    assert len(journal_rows(own_launcher, admin)) == 1
    assert await quotes_shown(offline_bot) == quotes_before + 1
    asked = tg.calls("getUpdates")[-1].params.get("allowed_updates", "")
    assert "inline_query" in str(asked)
    assert tg.errors() == []


async def test_receive_mode_and_queries_not_understood_in_english(
    own_tg: FakeTelegram, offline_bot: BotProcess
) -> None:
    tg, admin = own_tg, ADMINS[1]
    en, ru = (await ask(tg, admin, "receive 500 usdt for rub 2", "en")).results
    assert en.title == "EN · 43,505.00 RUB → 500.00 USDT"  # 500 × 87.01, rounded up
    assert ru.title == "RU · 43\u00a0505,00 RUB → 500,00 USDT"
    assert "You give: 43505.00 RUB" in en.norm and "You receive: 500.00 USDT" in en.norm
    for query, button in (
        ("1000 rub", "The currency received is missing · e.g. 1000 rub usdt 2"),
        ("1000 rub xyz", "“xyz” is not a currency I know · e.g. 1000 rub usdt 2"),
        ("1000 usd eur", "No USD → EUR direction · e.g. 1000 rub eur 2"),
        ("", "Type a quote, e.g. 1000 rub usdt 2"),
    ):
        answer = await ask(tg, admin, query, "en")
        assert (answer.results, answer.button_text, answer.start_parameter) == (
            [],
            button,
            "inline",
        )
    assert tg.messages(admin) == [] and tg.errors() == []


async def test_a_stranger_gets_no_quote_and_a_button_that_opens_the_bot(
    own_tg: FakeTelegram, offline_bot: BotProcess, own_launcher: BotLauncher
) -> None:
    tg = own_tg
    answer = await ask(tg, STRANGER, "1000 rub usdt 2")
    assert (answer.results, answer.button_text, answer.start_parameter) == (
        [],
        "Только для сотрудников · открыть бота",
        "inline",
    )
    assert (answer.is_personal, answer.cache_time) == (True, 60)
    assert tg.messages(STRANGER) == []  # nothing written to a stranger for a query
    # The button opens the private chat with "/start inline": one polite refusal.
    stranger = Person(tg, STRANGER)
    stranger.send("/start inline")
    await stranger.sees("этот бот работает только для сотрудников")
    assert len(tg.bot_messages(STRANGER)) == 1
    assert journal_rows(own_launcher, STRANGER) == []
    assert tg.errors() == []


async def test_webhook_mode_asks_for_inline_queries_and_answers_them(
    tmp_path: Path, fresh_tg: FakeTelegram, fresh_upstreams: FakeProviders
) -> None:
    fresh_tg.set_inline_mode(True)
    launch = BotLauncher(
        tmp_path, fresh_tg, fresh_upstreams, edits={"mode: polling": "mode: webhook"}
    )
    port = free_port()
    try:
        launch.start(
            ready="setWebhook",
            args=("--offline",),
            PORT=str(port),
            WEBHOOK_URL=f"http://127.0.0.1:{port}",
            WEBHOOK_SECRET="inline-Secret_1",
        )
        [hook] = fresh_tg.calls("setWebhook")
        assert "inline_query" in str(hook.params.get("allowed_updates"))
        assert "aiogd_update" not in str(hook.params.get("allowed_updates"))
        ru, en = (await ask(fresh_tg, ADMINS[2], "usdt 500 → thb")).results
        assert ru.title == "RU · 500,00 USDT → 15\u00a0725,50 THB" and en.id.endswith("-en")
        assert fresh_tg.errors() == []
    finally:
        launch.stop_all()
