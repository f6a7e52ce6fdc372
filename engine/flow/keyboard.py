"""A window's keyboard, rendered once per locale and option set, and its markup.

Why hand-written: aiogram-dialog renders every button of every window on every update (a
pydantic model per button, its label through Jinja), then prefixes each button's callback
data with the dialog's intent id by assigning to the model, which pydantic validates again.
For the flows this engine generates, a keyboard is a pure function of the user's locale and
the step's option ids (labels come from ``strings.yaml`` with the item's fields only), so it
is rendered once per such key and reused; bench/ measured the per-update rendering as the
largest cost the engine added over a hand-written aiogram bot (see bench/README.md).

* :class:`MemoKeyboard` is a :class:`Group` (its children still handle the clicks) whose
  rendered rows are kept per key. The keys are bounded by the configuration: locales ×
  option sets of the step.
* :class:`IntentMarkup` builds the ``InlineKeyboardMarkup`` with copies of the buttons that
  carry the intent prefix, so the kept buttons are never modified.

Measured again for issue 14 (``bench.inprocess``'s burst of ``/admin_bot``, CPU per update,
two interleaved runs on this 2-CPU VM): 419 and 437 µs with the memo, 473 and 488 µs without
it, about 50 µs (11 %) saved per rendered window. Only public aiogram-dialog API is used:
the memo wraps :meth:`Keyboard.render_keyboard` (the ``KeyboardWidget`` protocol method a
window calls), not the ``_render_keyboard`` hook, and the markup factory is typed
structurally against ``Window(markup_factory=...)`` rather than importing
``aiogram_dialog.api.internal``. What it still relies on, that the keyboard a window renders
reaches its markup factory unmodified, is checked with the real widgets in
``tests/engine/test_private_api_contracts.py``.
* :class:`CurrentMessageOnly` lets a tap through only from the dialog's current message.

Why that guard: a button's callback data names the dialog (the intent id) and the widget,
not the message it sits on. aiogram-dialog routes a tap to the window of the dialog's
*current* state and, when that window has no such widget, re-renders it by editing the
message the tap came from. So the second tap of a double tap on a kept card (``keep_message``:
the first tap sent the next window as a new message) edited the card itself into that
window, or, when the new window has a button of the same id (Back), acted a second time.
The dialog stack records the message the dialog shows now (``Stack.last_message_id``) and is
loaded and saved under aiogram-dialog's stack lock (the events isolation: in-process or
Redis), so every replica agrees which message is current; a tap on any other message is
answered and dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    TelegramObject,
)
from aiogram_dialog import DialogManager
from aiogram_dialog.api.entities import MarkupVariant
from aiogram_dialog.utils import intent_callback_data
from aiogram_dialog.widgets.kbd import Group, Keyboard

KeyboardKey = Callable[[dict[str, Any]], Hashable]
Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]
# The rows a keyboard widget renders (aiogram-dialog's RawKeyboard, spelt with public types).
Button = InlineKeyboardButton | KeyboardButton
Rows = list[list[Button]]

log = logging.getLogger(__name__)


class MemoKeyboard(Group):
    """``Group(*keyboards)`` whose rendering is kept per ``key(window_data)``."""

    def __init__(self, *keyboards: Keyboard, key: KeyboardKey) -> None:
        super().__init__(*keyboards)
        self._key = key
        self._rows: dict[Hashable, tuple[tuple[Button, ...], ...]] = {}

    async def render_keyboard(self, data: dict[str, Any], manager: DialogManager) -> Rows:
        key = self._key(data)
        rows = self._rows.get(key)
        if rows is None:
            rendered = await super().render_keyboard(data, manager)
            rows = tuple(tuple(row) for row in rendered)
            self._rows[key] = rows
        return [list(row) for row in rows]


class IntentMarkup:
    """aiogram-dialog's inline markup, without modifying the rendered buttons: a
    ``markup_factory`` for :class:`~aiogram_dialog.Window`."""

    async def render_markup(
        self, data: dict[str, Any], manager: DialogManager, keyboard: Rows
    ) -> MarkupVariant:
        intent_id = manager.current_context().id
        rows = [[_with_intent(button, intent_id) for button in row] for row in keyboard]
        return InlineKeyboardMarkup(inline_keyboard=rows)


def _with_intent(button: Button, intent_id: str) -> InlineKeyboardButton:
    """A copy of ``button`` whose callback data names the dialog (URL buttons as they are)."""
    if not isinstance(button, InlineKeyboardButton):
        raise TypeError(f"an inline keyboard cannot hold {type(button).__name__}")
    if button.callback_data is None:
        return button
    data = intent_callback_data(intent_id, button.callback_data)
    return button.model_copy(update={"callback_data": data})


class CurrentMessageOnly(BaseMiddleware):
    """Inner ``callback_query`` middleware of a dialog: a tap on a message other than the one
    the dialog shows now (a card left in the chat, a window sent again below) is answered
    and does nothing else.

    Runs after aiogram-dialog's middlewares (the stack is loaded, under its lock) and before
    the dialog's handler. A message the stack does not know yet (no id recorded) and inline
    messages (no message) pass.
    """

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        if isinstance(event, CallbackQuery) and event.message is not None:
            manager: DialogManager = data["dialog_manager"]
            current = manager.current_stack().last_message_id
            if current is not None and event.message.message_id != current:
                log.info(
                    "tap on message %s, the dialog shows %s: answered, ignored",
                    event.message.message_id,
                    current,
                )
                await manager.answer_callback()  # through the message manager, as the dialog does
                return None
        return await handler(event, data)
