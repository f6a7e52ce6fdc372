"""The generated dialog, driven end to end with aiogram-dialog's test tools."""

from __future__ import annotations

import pytest
from aiogram_dialog import ShowMode
from flow_helpers import button, to_amount, walk_to

from engine.definitions import Definitions

DIRECTIONS = [
    ("RUB", "USDT"),
    ("RUB", "USD"),
    ("RUB", "EUR"),
    ("RUB", "THB"),
    ("RUB", "AED"),
    ("RUB", "ZAR"),
    ("RUB", "IDR"),
    ("USDT", "RUB"),
    ("USDT", "USD"),
    ("USDT", "EUR"),
    ("USDT", "THB"),
    ("USDT", "AED"),
    ("USDT", "ZAR"),
    ("USDT", "IDR"),
]


def test_directions_match_config(definitions: Definitions) -> None:
    config = definitions.config
    assert [(g, t) for g, ts in config.directions.items() for t in ts] == DIRECTIONS


@pytest.mark.parametrize(("give", "get"), DIRECTIONS)
async def test_every_direction_reaches_a_result(make_chat, give: str, get: str) -> None:
    chat = make_chat()
    await to_amount(chat, give, get)
    text = await chat.send("1000" if give != "IDR" else "1000000")
    assert "Расчёт обмена" in text
    assert f"{give}</b> → " in text and f"<b>{get}</b>" in text
    assert "Клиент получает:" in text
    assert "Источник: static" in text


async def test_seed_example_numbers(make_chat) -> None:
    chat = make_chat()
    await to_amount(chat, "RUB", "USDT")
    text = await chat.send("1000")
    assert "Курс биржи: 1 USDT = 85,30 RUB" in text
    assert "<b>1 USDT = 87,01 RUB</b>" in text
    assert "Клиент отдаёт: <b>1\xa0000,00 RUB</b>" in text
    assert "Клиент получает: <b>11,49 USDT</b>" in text


async def test_english_for_an_english_telegram(make_chat) -> None:
    chat = make_chat(language="en-GB")
    await to_amount(chat, "USDT", "RUB", margin="1.5")
    text = await chat.send("1,000,000")
    # client sells USDT: 85.30 × (1 − 0.015) = 84.0205 → 84.02; 1 000 000 × 84.02
    assert "Client rate: <b>1 USDT = 84.02 RUB</b>" in text
    assert "Client gets: <b>84,020,000.00 RUB</b>" in text


async def test_unknown_language_falls_back_to_default(make_chat) -> None:
    chat = make_chat(language="de")
    assert "Новый расчёт обмена" in await chat.send("/admin_bot")


async def test_preset_margin_button(make_chat) -> None:
    chat = make_chat()
    await chat.send("/start")
    await chat.click(button("RUB"))
    await chat.click(button("USDT"))
    text = await chat.click("2,5\xa0%")
    assert "Наценка: 2,5\xa0%" in text


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("abc", "«abc» — не число."),
        ("NaN", "«NaN» — не число."),
        ("Infinity", "«Infinity» — не число."),
        ("1e309", "«1e309» — не число."),
        ("<b>1</b>", "«&lt;b&gt;1&lt;/b&gt;» — не число."),
        ("11", "Слишком много: максимум 10 %."),
        ("-1", "Число должно быть положительным."),
        ("2.555", "Слишком много знаков после запятой: не больше 2."),
        ("1" * 50, "Слишком длинно: не больше 40 символов."),
    ],
)
async def test_bad_margin_reprompts(make_chat, typed: str, message: str) -> None:
    chat = make_chat()
    await chat.send("/admin_bot")
    await chat.click(button("RUB"))
    await chat.click(button("USDT"))
    text = await chat.send(typed)
    assert text.startswith(f"⚠️ {message}")
    assert "Введите наценку" in text
    # the flow goes on: a good value is accepted right after
    assert "Введите сумму" in await chat.send("2,5%")


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("0", "Слишком мало: минимум 1 RUB."),
        ("100000001", "Слишком много: максимум 100\xa0000\xa0000 RUB."),
        ("10.005", "«10.005» можно понять двояко."),
        ("10.0055", "Слишком много знаков после запятой: не больше 2."),
        ("1,000", "«1,000» можно понять двояко."),
        ("1 000 000", None),
        ("1000,50", None),
        ("1\xa0000", None),
    ],
)
async def test_amount_validation(make_chat, typed: str, message: str | None) -> None:
    chat = make_chat()
    await to_amount(chat, "RUB", "USDT")
    text = await chat.send(typed)
    if message is None:
        assert "Расчёт обмена" in text
    else:
        assert text.startswith(f"⚠️ {message}"), text
        assert "Введите сумму" in text


async def test_whole_amounts_for_zero_decimal_currency(make_chat) -> None:
    chat = make_chat()
    await chat.send("/admin_bot")
    await chat.click(button("USDT"))
    await chat.click(button("IDR"))
    await chat.send("2")
    text = await chat.send("10.5")
    assert "Расчёт обмена" in text  # USDT has 2 decimals; IDR limits apply to IDR amounts


async def test_non_text_message_reprompts(make_chat) -> None:
    chat = make_chat()
    await to_amount(chat, "RUB", "USDT")
    assert (await chat.send("")).startswith("⚠️ Пустое сообщение.")


@pytest.mark.parametrize(
    ("step", "previous"),
    [
        ("target", "Какую валюту отдаёт клиент?"),
        ("margin", "Какую валюту клиент получает?"),
        ("amount", "Введите наценку"),
        ("result", "Введите сумму"),
    ],
)
async def test_back_from_every_step(make_chat, step: str, previous: str) -> None:
    chat = make_chat()
    await walk_to(chat, step)
    assert previous in await chat.click("← Назад")


@pytest.mark.parametrize("step", ["source", "target", "margin", "amount"])
async def test_cancel_from_every_step(make_chat, step: str) -> None:
    chat = make_chat()
    await walk_to(chat, step)
    assert "Расчёт отменён" in await chat.click("✖️ Отмена")
    assert "Новый расчёт обмена" in await chat.click("🔄 Новый расчёт")


@pytest.mark.parametrize("label", ["🔄 Новый расчёт", "← Назад"])
async def test_navigation_after_result_sends_a_new_message(make_chat, label: str) -> None:
    chat = make_chat()
    await walk_to(chat, "result")
    chat.manager.show_modes.clear()
    await chat.click(label)
    # SEND: aiogram-dialog sends a new message and only strips the result's keyboard
    assert chat.manager.show_modes == [ShowMode.SEND]


async def test_navigation_elsewhere_edits_in_place(make_chat) -> None:
    chat = make_chat()
    await walk_to(chat, "margin")
    chat.manager.show_modes.clear()
    await chat.click("← Назад")
    assert chat.manager.show_modes == [ShowMode.EDIT]


async def test_back_after_result_keeps_the_data(make_chat) -> None:
    chat = make_chat()
    await walk_to(chat, "result")
    await chat.click("← Назад")
    assert "Клиент получает: <b>22,98 USDT</b>" in await chat.send("2000")


async def test_stale_button_from_an_old_keyboard_is_ignored(make_chat) -> None:
    chat = make_chat()
    await walk_to(chat, "target")
    target_window = chat.window()
    await chat.click(button("USDT"))
    chat.manager.reset_history()
    # pressing a currency on the old target keyboard again must not crash the dialog
    from aiogram_dialog.test_tools.keyboard import InlineButtonTextLocator

    await chat.client.click(target_window, InlineButtonTextLocator(button("EUR")))
    assert chat.manager.sent_messages  # re-rendered, no exception
