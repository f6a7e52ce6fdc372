"""Typed numbers with invisible characters, against the real bot process (issue 9 §5).

aiogram-dialog reads zero-width characters at the end of a message as a reply-keyboard
button's hidden data; the bot removes them first, so the number is read as it was seen.
"""

from __future__ import annotations

from aiogram_dialog.utils import encode_reply_callback

from tests.e2e.fake_telegram import FakeTelegram
from tests.e2e.harness import ADMINS, BotProcess, Person


async def test_margin_with_zero_width_characters_is_the_margin_typed(
    tg: FakeTelegram, bot: BotProcess
) -> None:
    admin = Person(tg, ADMINS[35])
    await admin.open_step("margin")
    admin.send("5\u200b\u200c")
    screen = await admin.sees_screen("amount")
    assert "Наценка: 5 %" in screen.norm
    admin.send("1000")
    card = await admin.sees_screen("result")
    assert "Наценка: 5 %" in card.norm
    assert admin.refusals() == []


async def test_amount_with_hidden_button_data_is_the_amount_typed(
    tg: FakeTelegram, bot: BotProcess
) -> None:
    admin = Person(tg, ADMINS[36])
    await admin.open_step("amount")
    admin.send("1000" + encode_reply_callback("cancel"))  # was: Cancel pressed
    card = await admin.sees_screen("result")
    assert "Клиент отдаёт: 1 000,00 RUB" in card.norm
    assert not [m for m in tg.bot_messages(admin.user_id) if admin.screens["cancelled"] in m.norm]
    assert admin.refusals() == []


async def test_margin_with_hidden_preset_data_and_a_direction_override(
    tg: FakeTelegram, bot: BotProcess
) -> None:
    admin = Person(tg, ADMINS[37], language="en")
    await admin.open_step("margin")
    admin.send("\u202e2.5")  # shown as "5.2"
    screen = await admin.sees("⚠️ The message has hidden characters")
    assert admin.screens["margin"] in screen.norm
    admin.send("5" + encode_reply_callback("margin_preset:0.5"))  # was: the 0.5 % preset
    screen = await admin.sees_screen("amount")
    assert "Margin: 5%" in screen.norm
    assert admin.refusals() == []
