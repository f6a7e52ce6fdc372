"""A desk session done the new way, end to end (the real process, the fake Telegram, fake
providers): a first quote, a requote by typing, the card's buttons (margin, amount,
reverse, for the client), a double tap on them, receive mode in several directions and a
one-line quote typed on a card.

The rates are the fake providers' (test_e2e_quotes.py): USDT/RUB 85.30, so RUB → USDT at
2 % is 87.01 RUB per USDT and USDT → RUB at 2 % is 83.59.
"""

from __future__ import annotations

import asyncio
import re
from decimal import ROUND_CEILING, Decimal

import pytest

from tests.e2e.fake_telegram import FakeTelegram
from tests.e2e.harness import ADMINS, CARD_BUTTONS, BotProcess, Person
from tests.e2e.telegram_wire import ChatMessage

CARD = "Расчёт обмена"
NUMBER = re.compile(r"№ ([0-9A-Z]{6})")


def amounts(card: ChatMessage) -> tuple[str, str]:
    gives = re.search(r"Клиент отдаёт: ([\d ,]+ [A-Z]+)", card.norm)
    gets = re.search(r"Клиент получает: ([\d ,]+ [A-Z]+)", card.norm)
    assert gives and gets, card.norm
    return gives.group(1), gets.group(1)


def number(card: ChatMessage) -> str:
    found = NUMBER.search(card.norm)
    assert found, card.norm
    return found.group(1)


def as_decimal(shown: str) -> Decimal:
    return Decimal(re.sub(r"[^\d,]", "", shown).replace(",", "."))


async def new_card(admin: Person, tg: FakeTelegram, after: ChatMessage) -> ChatMessage:
    """The next result card below ``after``."""
    await tg.wait_for(
        lambda: any(
            m.message_id > after.message_id and CARD in m.norm
            for m in tg.bot_messages(admin.user_id)
        ),
        10,
        "a new card",
        admin.user_id,
    )
    return [
        m
        for m in tg.bot_messages(admin.user_id)
        if m.message_id > after.message_id and CARD in m.norm
    ][-1]


async def test_first_quote_requote_and_the_card_buttons(tg: FakeTelegram, bot: BotProcess) -> None:
    admin = Person(tg, ADMINS[31])
    card = await admin.quote("RUB", "USDT", margin="2", amount="1000")
    assert amounts(card) == ("1 000,00 RUB", "11,49 USDT")
    assert card.button_texts == CARD_BUTTONS
    first_number = number(card)

    admin.send("5000")  # requote by typing: one message
    second = await new_card(admin, tg, card)
    assert amounts(second)[0] == "5 000,00 RUB" and number(second) != first_number

    admin.click(second, "Наценка")  # change the margin: a tap and a number
    await admin.sees("Введите наценку")
    admin.send("1")
    third = await new_card(admin, tg, second)
    assert "Наценка: 1 %" in third.norm and amounts(third)[0] == "5 000,00 RUB"

    admin.click(third, "Обратный обмен")  # the reverse, for the same money
    fourth = await new_card(admin, tg, third)
    assert "💵 USDT → 🇷🇺 RUB" in fourth.norm
    assert amounts(fourth)[0] == amounts(third)[1]

    admin.click(fourth, "Клиенту · EN")  # the client's quote, in English
    client = await admin.sees("You give:")
    assert f"Quote No. {number(fourth)}" in client.norm
    assert client.entity_texts("code")[:1] == [number(fourth)]
    for hidden in ("argin", "ource", "аценк", "%", "85,30", "85.30"):
        assert hidden not in client.norm, hidden
    assert re.search(r"holds until \d\d:\d\d \(UTC\+3\), 15 min\.", client.norm), client.norm
    assert client.buttons == []
    # the card stays where it was, with its buttons
    [kept] = [m for m in tg.bot_messages(admin.user_id) if m.message_id == fourth.message_id]
    assert kept.norm == fourth.norm and kept.buttons
    assert admin.refusals() == []


@pytest.mark.parametrize(
    ("label", "opens"),
    [
        ("Клиенту · RU", "Вы отдаёте:"),
        ("Обратный обмен", CARD),
        ("Сумма", "Введите сумму"),
    ],
)
async def test_a_double_tap_on_a_card_button_acts_once(
    tg: FakeTelegram, bot: BotProcess, label: str, opens: str
) -> None:
    admin = Person(tg, ADMINS[32])
    card = await admin.quote("RUB", "USDT", margin="2", amount="1000")
    first = admin.click(card, label)
    await asyncio.sleep(0.003)
    admin.clicked.append(tg.user_clicks_again(first))
    await asyncio.sleep(0.2)
    admin.clicked.append(tg.user_clicks_again(first))
    await admin.all_clicks_answered()
    await asyncio.sleep(0.2)
    later = [m for m in tg.bot_messages(admin.user_id) if m.message_id > card.message_id]
    assert len([m for m in later if opens in m.norm]) == 1, tg.transcript(admin.user_id)
    assert admin.refusals() == []


@pytest.mark.parametrize(
    ("line", "give", "get", "n", "rate"),
    [
        ("получить 500 usdt за rub 2", "RUB", "USDT", "500,00", "87,01"),
        ("получить 10000 rub за usdt 2", "USDT", "RUB", "10 000,00", "83,59"),
    ],
)
async def test_receive_mode_rounds_the_amount_given_up(
    tg: FakeTelegram, bot: BotProcess, line: str, give: str, get: str, n: str, rate: str
) -> None:
    admin = Person(tg, ADMINS[33])
    admin.send(line)
    card = await admin.sees(CARD)
    gives, gets = amounts(card)
    assert gets == f"{n} {get}"
    assert "Клиент получает: " + gets + " · ✍️ задано" in card.norm
    final = as_decimal(rate)
    exact = as_decimal(n) * final if give == "RUB" else as_decimal(n) / final
    assert as_decimal(gives) == exact.quantize(Decimal("0.01"), rounding=ROUND_CEILING)
    assert gives.endswith(give)


async def test_receive_mode_in_the_dialog(tg: FakeTelegram, bot: BotProcess) -> None:
    admin = Person(tg, ADMINS[34])
    prompt = await admin.open_step("amount", "USDT", "RUB")
    admin.click(prompt, "Ввести сумму получения")
    receive = await admin.sees("которую клиент получает, в RUB")
    admin.send("10000")
    card = await new_card(admin, tg, receive)
    assert amounts(card)[1] == "10 000,00 RUB"
    admin.send("1000 rub usdt 2")  # a one-line quote typed on the card: a new quote
    other = await new_card(admin, tg, card)
    assert amounts(other) == ("1 000,00 RUB", "11,49 USDT")
    assert admin.refusals() == []
