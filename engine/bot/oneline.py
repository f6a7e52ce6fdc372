"""One-line quotes in the chat: ``/q 1000 rub usdt 2``, or the same text with no dialog open.

The line is read by :mod:`engine.flow.oneline`; the quote runs the main flow's own actions
(``compute_quote``) on the same data the dialog would save, and the reply is the flow's
result card (or its ``on_error`` card), so a one-line quote and a dialog quote cannot differ.
"""

from __future__ import annotations

import logging
from typing import Any

from aiogram.filters import BaseFilter
from aiogram.types import Message
from aiogram_dialog import DialogManager

from engine.config.models import AppConfig
from engine.flow.actions import ACTIONS, ActionContext, ActionFailedError
from engine.flow.builder import FAILED_STEP_KEY, FlowDialog, quote_origin
from engine.flow.oneline import (
    OneLineRejectedError,
    QuoteRequest,
    check_line,
    read_line,
    rejection_text,
    vocabulary,
)
from engine.flow.services import FlowServices
from engine.journal.hook import QuoteOrigin
from engine.locale import user_locale
from engine.render import Renderer

log = logging.getLogger(__name__)


class OneLineQuotes:
    """Answers one-line quotes for the main flow.

    Args:
        main_flow: the flow whose amount step's actions compute the quote.
    """

    def __init__(self, main_flow: FlowDialog, config: AppConfig, renderer: Renderer) -> None:
        self.flow = main_flow.flow
        self.dialog = main_flow
        self.config = config
        self.renderer = renderer
        self.words = vocabulary(config)
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

    async def answer(
        self,
        message: Message,
        text: str,
        services: FlowServices,
        manager: DialogManager,
    ) -> None:
        """Reply to ``text`` with the flow's result card (the dialog opened there, so its
        buttons and typed amounts work), or one line on what is missing."""
        locale = user_locale(
            message.from_user, self.renderer.locales, self.config.bot.default_locale
        )
        try:
            request = check_line(read_line(text, self.words), self.config, self.flow)
        except OneLineRejectedError as exc:
            log.debug("one-line quote refused: %s", exc.code)
            await message.answer(rejection_text(self.renderer, locale, exc))
            return
        origin = quote_origin(message.from_user, message.chat, self.config)
        card, data = await self._quote(request, services, origin)
        if card == self.flow.steps[self.step_id].on_error:
            data[FAILED_STEP_KEY] = self.step_id  # Retry there repeats the quote
        await self.dialog.open_at(manager, card, data)

    async def _quote(
        self, request: QuoteRequest, services: FlowServices, origin: QuoteOrigin | None
    ) -> tuple[str, dict[str, Any]]:
        """Run the amount step's actions; the card to show and the data to show it with."""
        step = self.flow.steps[self.step_id]
        data: dict[str, Any] = dict(request.as_data())
        try:
            for name in step.actions:
                await ACTIONS[name](ActionContext(data, services, origin))
        except ActionFailedError as exc:
            log.info("one-line quote: action failed (%s)", exc.reason)
            assert step.on_error is not None
            return step.on_error, data
        assert step.next is not None
        return step.next, data


class ReadsAsQuote(BaseFilter):
    """A text that reads as a one-line quote (a number and a currency)."""

    def __init__(self, quotes: OneLineQuotes) -> None:
        self.quotes = quotes

    async def __call__(self, message: Message) -> bool:
        return bool(message.text) and self.quotes.reads_as_quote(message.text or "")


def kept_card_states(quotes: OneLineQuotes) -> frozenset[str]:
    """The states of the flow's kept cards (the result card): a one-line quote typed there
    is a new quote, not a wrong amount for the card."""
    return frozenset(
        quotes.dialog.state(sid).state or ""
        for sid, step in quotes.flow.steps.items()
        if step.kind == "card" and step.keep_message
    )
