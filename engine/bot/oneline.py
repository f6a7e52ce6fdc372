"""One-line quotes in the chat: ``/q 1000 rub usdt 2``, or the same text with no dialog open.

The line is read by :mod:`engine.flow.oneline`; the quote runs the main flow's own actions
(``compute_quote``) on the same data the dialog would save, and the reply is the flow's
result card (or its ``on_error`` card), so a one-line quote and a dialog quote cannot differ.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, Message

from engine.config.models import AppConfig
from engine.flow.actions import ACTIONS, ActionContext, ActionFailedError
from engine.flow.builder import FlowDialog
from engine.flow.context import window_context
from engine.flow.oneline import (
    OneLineRejectedError,
    QuoteRequest,
    check_line,
    read_line,
    rejection_text,
    vocabulary,
)
from engine.locale import user_locale
from engine.render import Renderer

log = logging.getLogger(__name__)


class OneLineQuotes:
    """Answers one-line quotes for the main flow.

    Args:
        main_flow: the flow whose amount step's actions compute the quote.
        new_deal_data: callback data of the "new quote" button under the card.
    """

    def __init__(
        self, main_flow: FlowDialog, config: AppConfig, renderer: Renderer, new_deal_data: str
    ) -> None:
        self.flow = main_flow.flow
        self.config = config
        self.renderer = renderer
        self.words = vocabulary(config)
        self.new_deal_data = new_deal_data
        steps = self.flow.steps
        self.step_id = next(
            sid
            for sid, s in steps.items()
            if s.kind == "input" and s.input is not None and s.input.type == "amount"
        )

    def reads_as_quote(self, text: str) -> bool:
        """Whether a plain text is meant as a one-line quote (a currency and a number);
        anything else gets the bot's usual reply."""
        try:
            return read_line(text, self.words).attempt
        except OneLineRejectedError:
            return False

    async def answer(self, message: Message, text: str, services: Mapping[str, Any]) -> None:
        """Reply to ``text`` with the result card, or one line on what is missing."""
        locale = user_locale(
            message.from_user, self.renderer.locales, self.config.bot.default_locale
        )
        try:
            request = check_line(read_line(text, self.words), self.config, self.flow)
        except OneLineRejectedError as exc:
            log.debug("one-line quote refused: %s", exc.code)
            await message.answer(rejection_text(self.renderer, locale, exc))
            return
        card, data = await self._quote(request, services)
        context = window_context(self.flow, card, self.config, data, locale, self.renderer)
        button = InlineKeyboardButton(
            text=self.renderer.string(locale, "buttons", "new_deal", {}),
            callback_data=self.new_deal_data,
        )
        await message.answer(
            self.renderer.window(locale, self.flow.template_of(card), context),
            reply_markup=InlineKeyboardMarkup(inline_keyboard=[[button]]),
        )

    async def _quote(
        self, request: QuoteRequest, services: Mapping[str, Any]
    ) -> tuple[str, dict[str, Any]]:
        """Run the amount step's actions; the card to show and the data to show it with."""
        step = self.flow.steps[self.step_id]
        data: dict[str, Any] = dict(request.as_data())
        try:
            for name in step.actions:
                await ACTIONS[name](ActionContext(data, services))
        except ActionFailedError as exc:
            log.info("one-line quote: action failed (%s)", exc.reason)
            assert step.on_error is not None
            return step.on_error, data
        assert step.next is not None
        return step.next, data
