"""Inline quotes (issue 11 §5): an admin's ``@bot 1000 rub usdt 2`` in any chat is answered
with the client's card, one article per locale; anyone else gets no result and a button.
Driven through the real dispatcher (access middleware, throttle, FSM) with inline_query
updates; what goes to Telegram is the recorded ``answerInlineQuery``."""

from __future__ import annotations

import asyncio
import itertools
import logging
from decimal import Decimal
from typing import Any

import pytest
from aiogram.exceptions import TelegramBadRequest
from aiogram.methods import AnswerInlineQuery, TelegramMethod
from aiogram.types import ChosenInlineResult, InlineQuery, InputTextMessageContent, Update, User
from aiogram_dialog.test_tools.keyboard import InlineButtonTextLocator
from bot_helpers import ADMIN, STRANGER, RecordingBot

from engine.app import create_dispatcher
from engine.definitions import load_definitions
from engine.inline import MAX_RESULT_ID_BYTES, InlineQuotes, plain_line
from engine.journal.entry import JournalEntry
from engine.metrics import BotMetrics
from engine.rates.errors import RatesUnavailableError
from engine.rates.offline import create_offline_rates

_ids = itertools.count(1)

CLIENT_RU = (
    "<b>Обмен RUB → USDT</b>\nРасчёт № <code>000000</code>\n\n"
    "Вы отдаёте: <code>1000,00</code> RUB\nВы получаете: <code>11,49</code> USDT\n"
    "Курс: 1 USDT = <code>87,01</code> RUB\n\n"
)


async def inline_query(
    s, text: str, *, user_id: int | None = None, language: str | None = None
) -> AnswerInlineQuery:
    """The user types ``@bot text``; the one answerInlineQuery the bot made."""
    before = len(s.bot.calls)
    user = User(
        id=user_id or s.client.user.id,
        is_bot=False,
        first_name="U",
        language_code=language if language is not None else s.client.user.language_code,
    )
    query = InlineQuery(id=str(next(_ids)), from_user=user, query=text, offset="")
    await s.app.dispatcher.feed_update(s.bot, Update(update_id=next(_ids), inline_query=query))
    [answer] = [c for c in s.bot.calls[before:] if isinstance(c, AnswerInlineQuery)]
    return answer


def articles(answer: AnswerInlineQuery) -> list[dict[str, Any]]:
    found = []
    for result in answer.results:
        content = result.input_message_content
        assert isinstance(content, InputTextMessageContent)
        found.append(
            {
                "id": result.id,
                "title": result.title,
                "description": result.description,
                "text": content.message_text,
                "parse_mode": content.parse_mode,
            }
        )
    return found


class Recorder:
    def __init__(self) -> None:
        self.entries: list[JournalEntry] = []

    def record(self, entry: JournalEntry) -> None:
        self.entries.append(entry)


async def client_card_from_dialog(session, language: str | None, label: str) -> str:
    """What the result card's "for the client" button sends for the same quote."""
    s = session(language=language)
    await s.client.send("/q 1000 rub usdt 2")
    await s.client.click(s.manager.last_message(), InlineButtonTextLocator(label))
    return s.bot.sent()[-1].text


async def test_an_admin_gets_the_client_card_in_every_language_theirs_first(session) -> None:
    s = session()
    answer = await inline_query(s, "1000 rub usdt 2")
    found = articles(answer)
    assert [a["id"] for a in found] == ["000000-ru", "000000-en"]
    assert [a["title"] for a in found] == [
        "RU · 1\u00a0000,00 RUB → 11,49 USDT",
        "EN · 1,000.00 RUB → 11.49 USDT",
    ]
    assert found[0]["description"].startswith("Курс для клиента: 1 USDT = 87,01 RUB · до ")
    assert found[1]["description"].startswith("Client rate: 1 USDT = 87.01 RUB · until ")
    assert found[0]["text"].startswith(CLIENT_RU)
    assert found[0]["text"] == await client_card_from_dialog(session, None, ".* · RU")
    assert found[1]["text"] == await client_card_from_dialog(session, None, ".* · EN")
    assert {a["parse_mode"] for a in found} == {"HTML"}
    assert "Наценка" not in found[0]["text"] and "static" not in found[0]["text"]
    assert (answer.is_personal, answer.cache_time, answer.button) == (True, 5, None)


async def test_an_english_admin_sees_english_first(session) -> None:
    s = session(language="en")
    found = articles(await inline_query(s, "usdt 500 → thb"))
    assert [a["id"] for a in found] == ["000000-en", "000000-ru"]
    assert found[0]["title"] == "EN · 500.00 USDT → 15,725.50 THB"
    assert found[0]["text"].startswith("<b>Exchange USDT → THB</b>")


async def test_receive_mode(session) -> None:
    s = session()
    found = articles(await inline_query(s, "получить 500 usdt за rub 2"))
    assert found[0]["title"] == "RU · 43\u00a0505,00 RUB → 500,00 USDT"  # 500 × 87,01, up
    assert "Вы отдаёте: <code>43505,00</code> RUB" in found[0]["text"]
    assert "Вы получаете: <code>500,00</code> USDT" in found[0]["text"]


@pytest.mark.parametrize(
    ("text", "button"),
    [
        ("1000 rub", "Не хватает валюты получения · пример: 1000 rub usdt 2"),
        ("rub usdt 2%", "Не хватает суммы · пример: 1000 rub usdt 2"),
        ("1000 rub xyz", "Не знаю «xyz» · пример: 1000 rub usdt 2"),
        ("1000 usd eur", "Нет направления USD → EUR · пример: 1000 rub eur 2"),
        ("1000 rub usdt eur", "Лишнее в запросе · пример: 1000 rub usdt 2"),
        ("0,5 rub usdt 2", "Слишком мало: минимум 1 RUB."),
        ("hello", "Не знаю «hello» · пример: 1000 rub usdt 2"),
    ],
)
async def test_a_query_not_understood_gets_a_button_saying_what_is_missing(
    session, text: str, button: str
) -> None:
    s = session()
    answer = await inline_query(s, text)
    assert answer.results == []
    assert answer.button is not None
    assert (answer.button.text, answer.button.start_parameter) == (button, "inline")
    assert (answer.is_personal, answer.cache_time) == (True, 5)


async def test_a_refusal_in_english(session) -> None:
    answer = await inline_query(session(language="en"), "1000 rub")
    assert answer.button is not None
    assert answer.button.text == "The currency received is missing · e.g. 1000 rub usdt 2"


async def test_a_long_error_is_cut_to_one_line(session) -> None:
    answer = await inline_query(session(), "1,000 rub usdt")
    assert answer.button is not None
    assert len(answer.button.text) == 64 and answer.button.text.endswith("…")
    assert answer.button.text.startswith("«1,000» можно понять двояко.")


@pytest.mark.parametrize("text", ["", "   "])
async def test_an_empty_query_gets_a_hint(session, text: str) -> None:
    answer = await inline_query(session(), text)
    assert answer.results == []
    assert answer.button is not None
    assert answer.button.text == "Напишите расчёт, например: 1000 rub usdt 2"


async def test_a_stranger_gets_no_result_and_a_button_to_open_the_bot(session, caplog) -> None:
    s = session(user_id=STRANGER)
    recorder = Recorder()
    s.serve_with(journal=recorder)
    caplog.set_level(logging.INFO)
    for _ in range(2):
        answer = await inline_query(s, "1000 rub usdt 2")
        assert answer.results == []
        assert answer.button is not None
        assert (answer.button.text, answer.button.start_parameter) == (
            "Только для сотрудников · открыть бота",
            "inline",
        )
        assert (answer.is_personal, answer.cache_time) == (True, 60)
    assert recorder.entries == []  # no quote was made
    refused = [r for r in caplog.records if "refused user" in r.getMessage()]
    assert [r.getMessage() for r in refused] == [f"refused user {STRANGER} inline (not in admins)"]


async def test_a_stranger_in_english(session) -> None:
    answer = await inline_query(session(user_id=STRANGER, language="en"), "")
    assert answer.button is not None
    assert answer.button.text == "For the desk's staff only · open the bot"


async def pick(
    s, answer: AnswerInlineQuery, result_id: str, *, user_id: int | None = None
) -> None:
    """The user taps a result (inline feedback on: Telegram reports it)."""
    user = User(id=user_id or s.client.user.id, is_bot=False, first_name="U")
    chosen = ChosenInlineResult(result_id=result_id, from_user=user, query="")
    await s.app.dispatcher.feed_update(
        s.bot, Update(update_id=next(_ids), chosen_inline_result=chosen)
    )


async def test_an_inline_quote_is_counted_and_journalled_as_the_admins_own(session) -> None:
    s = session()
    recorder, metrics = Recorder(), BotMetrics()
    s.serve_with(journal=recorder, metrics=metrics)
    await inline_query(s, "1000 rub usd")  # typing on: quoted, shown, never sent
    answer = await inline_query(s, "1000 rub usdt 2")
    assert recorder.entries == []  # journalled when picked, not when answered
    await pick(s, answer, "000000-en")
    await pick(s, answer, "000000-ru")  # the same quote picked again: one row
    [entry] = recorder.entries
    assert (entry.quote_no, entry.admin_id, entry.chat_id) == ("000000", ADMIN, ADMIN)
    assert (entry.give, entry.get, entry.mode) == ("RUB", "USDT", "give")
    assert (entry.amount_given, entry.margin) == (Decimal("1000"), Decimal("2"))
    assert 'crypto_helper_quotes_total{get="USDT",give="RUB"} 1.0' in metrics.render().decode()


async def test_a_pick_of_a_quote_this_process_did_not_answer_is_not_journalled(
    session, caplog
) -> None:
    s = session()
    recorder = Recorder()
    s.serve_with(journal=recorder)
    caplog.set_level(logging.INFO)
    answer = await inline_query(s, "1000 rub usdt 2")
    await pick(s, answer, "ZZZZZZ-ru")  # answered by another replica
    await pick(s, answer, "000000-ru", user_id=ADMIN + 1)  # not the admin it was made for
    assert recorder.entries == []
    assert "inline quote ZZZZZZ picked, not answered here: not journalled" in caplog.text


async def test_no_rate_no_result_and_a_button_saying_so(session, caplog) -> None:
    class NoRates:
        async def quote(self, *args: Any, **kwargs: Any) -> Any:
            raise RatesUnavailableError("every provider down")

    s = session()
    s.serve_with(rates=NoRates())
    answer = await inline_query(s, "1000 rub usdt 2")
    assert answer.results == []
    assert answer.button is not None
    assert answer.button.text == "Курс RUB → USDT сейчас недоступен"
    assert "inline quote RUB→USDT not given: rates_unavailable" in caplog.text


async def test_telegram_refusing_the_answer_is_a_warning_not_a_failure(session, caplog) -> None:
    class RefusingBot(RecordingBot):
        async def __call__(
            self, method: TelegramMethod[Any], request_timeout: int | None = None
        ) -> Any:
            self.calls.append(method)
            if isinstance(method, AnswerInlineQuery):
                raise TelegramBadRequest(method, "Bad Request: QUERY_ID_INVALID")
            return True

    s = session()
    s.bot = RefusingBot()
    await inline_query(s, "1000 rub usdt 2")
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [r.getMessage() for r in warnings] == [
        f"inline query of user {ADMIN} not answered: Bad Request: QUERY_ID_INVALID"
    ]


async def test_a_flood_of_inline_queries_is_throttled_like_messages(session) -> None:
    """The throttle counts inline queries too: one admin's burst is dropped beyond the
    limit instead of queueing behind their lock (a dropped query is simply not answered:
    the client asks again with the next keystroke)."""

    class SlowBot(RecordingBot):
        async def __call__(
            self, method: TelegramMethod[Any], request_timeout: int | None = None
        ) -> Any:
            await asyncio.sleep(0.005)
            return await super().__call__(method, request_timeout)

    s = session()
    s.bot = SlowBot()
    user = User(id=ADMIN, is_bot=False, first_name="U")
    updates = [
        Update(
            update_id=next(_ids),
            inline_query=InlineQuery(
                id=str(next(_ids)), from_user=user, query=f"{1000 + i} rub usdt 2", offset=""
            ),
        )
        for i in range(30)
    ]
    await asyncio.gather(*(s.app.dispatcher.feed_update(s.bot, u) for u in updates))
    answered = [c for c in s.bot.calls if isinstance(c, AnswerInlineQuery)]
    assert s.app.throttle.dropped > 0
    assert len(answered) + s.app.throttle.dropped == 30


async def test_inline_queries_are_asked_for(session) -> None:
    assert "inline_query" in session().app.dispatcher.resolve_used_update_types()


async def test_a_flow_without_a_client_card_does_not_ask_for_inline_queries(edit) -> None:
    edit("flows/exchange.yaml", "      - [for_client]\n", "")
    defs = load_definitions("config.yaml")
    assert not InlineQuotes(defs.flows[0], defs.config, defs.renderer).available
    rates = create_offline_rates(defs.config)
    try:
        app = create_dispatcher(defs, rates=rates, admins=[ADMIN])
        assert "inline_query" not in app.dispatcher.resolve_used_update_types()
    finally:
        await rates.close()


def test_result_ids_stay_far_below_telegrams_limit(definitions) -> None:
    for locale in definitions.renderer.locales:
        assert len(f"ZZZZZZZZ-{locale}".encode()) < MAX_RESULT_ID_BYTES


@pytest.mark.parametrize(
    ("rendered", "limit", "shown"),
    [
        ("«xyz» &amp; <b>bold</b>", 64, "«xyz» & bold"),
        ("one\n  two", 64, "one two"),
        ("a < b", 64, "a < b"),  # not HTML: as written
        ("x" * 70, 64, "x" * 63 + "…"),
        ("x" * 70, None, "x" * 70),
    ],
)
def test_plain_line(rendered: str, limit: int | None, shown: str) -> None:
    assert plain_line(rendered, limit) == shown


SNAPSHOT_QUERIES = [
    "1000 rub usdt 2",
    "usdt 500 → thb",
    "получить 500 usdt за rub 2",
    "receive 1000000 idr for usdt",
]


@pytest.mark.parametrize("locale", ["ru", "en"])
@pytest.mark.parametrize("text", SNAPSHOT_QUERIES)
async def test_article_snapshots(session, snapshot, locale: str, text: str) -> None:
    found = articles(await inline_query(session(language=locale), text))
    assert [
        f"{a['id']} | {a['title']} | {a['description']}\n{a['text']}" for a in found
    ] == snapshot


@pytest.mark.parametrize("locale", ["ru", "en"])
@pytest.mark.parametrize(
    "text",
    [
        "",
        "1000 rub",
        "rub usdt",
        "1000 rub xyz",
        "1000 usdt usdt",
        "1000 rub usdt eur",
        "1000 rub usdt 11",
        "получить 500 usdt",
    ],
)
async def test_button_snapshots(session, snapshot, locale: str, text: str) -> None:
    answer = await inline_query(session(language=locale), text)
    assert answer.results == []
    assert answer.button is not None
    assert answer.button.text == snapshot
