"""Typed text with invisible characters, through the real dispatcher (issue 9 §5).

Before the fix, aiogram-dialog read trailing zero-width characters of a typed message as a
hidden reply-keyboard button (``aiogram_dialog.utils.split_reply_callback``): these four
inputs tapped a preset, pressed Cancel, did nothing, or raised ``UnicodeDecodeError``.
Each must read as typed, or be refused with the message.
"""

from __future__ import annotations

import pytest
from aiogram_dialog.utils import encode_reply_callback
from flow_helpers import walk_to

PRESET_05 = encode_reply_callback("margin_preset:0.5")  # a tap on the "0,5 %" preset
CANCEL = encode_reply_callback("cancel")  # a tap on "✖️ Отмена"
HIDDEN = {
    "ru": (
        "⚠️ В сообщении есть скрытые символы (метки направления текста или форматирования): "
        "из-за них число может выглядеть не так, как было отправлено. Наберите число заново "
        "вручную, например 1500 или 2,5."
    ),
    "en": (
        "⚠️ The message has hidden characters (text-direction or formatting marks) that can "
        "make a number look different from what was sent. Type the number again by hand, "
        "e.g. 1500 or 2.5."
    ),
}
FOREIGN = {
    "ru": "⚠️ В «١٠٥» есть цифры, кроме 0–9. Введите число цифрами 0–9, например 1500 или 2,5.",
    "en": "⚠️ “١٠٥” has digits other than 0–9. Type the number with 0–9, e.g. 1500 or 2.5.",
}


@pytest.mark.parametrize(
    ("typed", "margin"),
    [
        pytest.param("5" + PRESET_05, "5\xa0%", id="was-the-0.5-preset"),
        pytest.param("2\u200c\u200c", "2\xa0%", id="was-silence"),
        pytest.param("2\U0001d173\U0001d173", "2\xa0%", id="was-UnicodeDecodeError"),
        pytest.param("5\u200b\u200c", "5\xa0%", id="was-not-a-number"),
        pytest.param("\ufeff1,5\u2060%", "1,5\xa0%", id="bom-and-word-joiner"),
    ],
)
async def test_margin_with_invisible_characters_reads_as_typed(
    make_chat, typed: str, margin: str
) -> None:
    chat = make_chat()
    await walk_to(chat, "margin")
    text = await chat.send(typed)
    assert "Введите сумму" in text
    assert f"Наценка: {margin}\n" in text


@pytest.mark.parametrize(
    "typed",
    [
        pytest.param("1000" + CANCEL, id="was-cancel"),
        pytest.param("1000\u200b\u200c", id="zwsp-zwnj"),
        pytest.param("1\u200b000\u00ad", id="inside-and-soft-hyphen"),
    ],
)
async def test_amount_with_invisible_characters_reads_as_typed(make_chat, typed: str) -> None:
    chat = make_chat()
    await walk_to(chat, "amount")
    text = await chat.send(typed)  # "1000" + CANCEL was: Quote cancelled
    assert "Расчёт отменён" not in text
    assert "Клиент отдаёт: <b>1\xa0000,00 RUB</b>" in text


@pytest.mark.parametrize("locale", ["ru", "en"])
@pytest.mark.parametrize(
    ("step", "typed"),
    [
        pytest.param("margin", "\u202e2.5", id="override-shows-5.2"),
        pytest.param("margin", "2\u200f", id="rlm"),
        pytest.param("amount", "\u20661000\u2069", id="isolate"),
        pytest.param("amount", "1000\u200e" + CANCEL, id="lrm-then-cancel"),
    ],
)
async def test_direction_controls_are_refused_with_the_message(
    make_chat, locale: str, step: str, typed: str
) -> None:
    chat = make_chat(language=locale)
    await walk_to(chat, step)
    prompt = chat.transcript[-1].split("\n[", 1)[0]
    text = await chat.send(typed)
    assert text == f"{HIDDEN[locale]}\n\n{prompt}"


@pytest.mark.parametrize("locale", ["ru", "en"])
async def test_arabic_indic_digits_are_refused_with_the_message(make_chat, locale: str) -> None:
    chat = make_chat(language=locale)
    await walk_to(chat, "amount")
    text = await chat.send("١٠٥")
    assert text.startswith(FOREIGN[locale] + "\n\n")


async def test_full_width_digits_are_read(make_chat) -> None:
    chat = make_chat()
    await walk_to(chat, "margin")
    assert "Наценка: 2,5\xa0%\n" in await chat.send("２，５％")
    text = await chat.send("１０００")
    assert "Клиент отдаёт: <b>1\xa0000,00 RUB</b>" in text


async def test_a_command_with_invisible_characters_still_works(make_chat) -> None:
    chat = make_chat()
    await walk_to(chat, "amount")
    text = await chat.send("/admin_bot\u200b\u200c")
    assert "Какую валюту отдаёт клиент?" in text
