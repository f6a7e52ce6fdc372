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
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram_dialog import DialogManager
from aiogram_dialog.api.entities import MarkupVariant
from aiogram_dialog.api.internal import ButtonVariant, RawKeyboard
from aiogram_dialog.api.internal.widgets import MarkupFactory
from aiogram_dialog.utils import intent_callback_data
from aiogram_dialog.widgets.kbd import Group, Keyboard

KeyboardKey = Callable[[dict[str, Any]], Hashable]


class MemoKeyboard(Group):
    """``Group(*keyboards)`` whose rendering is kept per ``key(window_data)``."""

    def __init__(self, *keyboards: Keyboard, key: KeyboardKey) -> None:
        super().__init__(*keyboards)
        self._key = key
        self._rows: dict[Hashable, tuple[tuple[Any, ...], ...]] = {}

    async def _render_keyboard(self, data: dict[str, Any], manager: DialogManager) -> RawKeyboard:
        key = self._key(data)
        rows = self._rows.get(key)
        if rows is None:
            rendered = await super()._render_keyboard(data, manager)
            rows = tuple(tuple(row) for row in rendered)
            self._rows[key] = rows
        return [list(row) for row in rows]


class IntentMarkup(MarkupFactory):
    """aiogram-dialog's inline markup, without modifying the rendered buttons."""

    async def render_markup(
        self, data: dict[str, Any], manager: DialogManager, keyboard: RawKeyboard
    ) -> MarkupVariant:
        intent_id = manager.current_context().id
        rows = [[_with_intent(button, intent_id) for button in row] for row in keyboard]
        return InlineKeyboardMarkup(inline_keyboard=rows)


def _with_intent(button: ButtonVariant, intent_id: str) -> InlineKeyboardButton:
    """A copy of ``button`` whose callback data names the dialog (URL buttons as they are)."""
    if not isinstance(button, InlineKeyboardButton):
        raise TypeError(f"an inline keyboard cannot hold {type(button).__name__}")
    if button.callback_data is None:
        return button
    data = intent_callback_data(intent_id, button.callback_data)
    return button.model_copy(update={"callback_data": data})
