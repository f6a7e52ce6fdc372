"""The quote journal in the chat: ``/history``, ``/export``, ``/today``, and the buttons
that reopen a stored quote as its result card.

* ``/history`` — this admin's last 10 quotes, newest first, one line each, a button per
  quote; ``/history all`` — every admin's. The button opens the quote as the main flow's
  live result card (:func:`engine.bot.reopen.open_step`): typing an amount there requotes
  with the stored direction and margin, as on any card.
* ``/export`` — today's quotes as a CSV document (:mod:`engine.journal.export`);
  ``/export week``, ``/export 2026-12-01``, ``/export 2026-12-01 2026-12-07``
  (:mod:`engine.journal.period`).
* ``/today`` — quotes and volume per direction since the desk's midnight.

The journal's database may be away: a read then gets one line saying so (how many quotes
wait to be written), never an error notice. Before reading, a command waits (1 s at most)
for the quotes this process queued, so a quote just shown is in ``/history``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiogram import Router
from aiogram.filters import BaseFilter, Command, CommandObject
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)
from aiogram_dialog import DialogManager

from engine.bot.reopen import open_step
from engine.config.models import AppConfig
from engine.flow.builder import FlowDialog
from engine.journal.entry import JournalEntry
from engine.journal.errors import JournalUnavailableError
from engine.journal.export import export_csv
from engine.journal.period import Period, PeriodError, parse_period, today_in
from engine.journal.store import JournalStore
from engine.journal.texts import (
    HISTORY,
    HISTORY_LIMIT,
    TODAY,
    card_data,
    history_context,
    today_context,
)
from engine.journal.writer import JournalWriter
from engine.locale import user_locale
from engine.render import Renderer

log = logging.getLogger(__name__)

REOPEN_PREFIX = "jq:"
EVERYONE_WORDS = frozenset({"all", "все", "всех"})
SETTLE_SECONDS = 1.0


class ReopenButton(BaseFilter):
    """A tap on a ``/history`` button (a coroutine: see commands.CallbackData)."""

    async def __call__(self, callback: CallbackQuery) -> bool:
        return bool(callback.data and callback.data.startswith(REOPEN_PREFIX))


def result_step(main_flow: FlowDialog) -> str:
    """The card a quote is shown on: where the flow's amount step goes on success."""
    for step in main_flow.flow.steps.values():
        if step.input is not None and step.input.type == "amount" and step.actions:
            assert step.next is not None
            return step.next
    raise ValueError(f"flow {main_flow.flow.id!r} has no amount step with actions")


def create_journal_router(main_flow: FlowDialog, config: AppConfig, renderer: Renderer) -> Router:
    router = Router(name="journal")
    card = result_step(main_flow)
    zone = config.bot.zone

    def locale_of(event: Message | CallbackQuery) -> str:
        return user_locale(event.from_user, renderer.locales, config.bot.default_locale)

    def say(locale: str, key: str, **params: object) -> str:
        return renderer.string(locale, "journal", key, params)

    def unavailable(locale: str, journal: JournalWriter | None) -> str:
        waiting = journal.stats().waiting if journal is not None else 0
        return say(locale, "unavailable", waiting=waiting)

    async def read(
        message: Message,
        locale: str,
        journal: JournalWriter | None,
        journal_store: JournalStore | None,
        command: str,
        query: Callable[[JournalStore], Awaitable[list[JournalEntry]]],
    ) -> list[JournalEntry] | None:
        """What ``query`` reads once the quotes just made are written; None when the
        journal is off or unavailable (the admin is told which, in one line)."""
        if journal is None or journal_store is None:
            await message.answer(say(locale, "off"))
            return None
        await journal.settle(SETTLE_SECONDS)
        try:
            return await query(journal_store)
        except JournalUnavailableError as exc:
            log.warning("%s: the journal is unavailable (%s)", command, exc.cause)
            await message.answer(unavailable(locale, journal))
            return None

    @router.message(Command("history"))
    async def history(
        message: Message,
        command: CommandObject,
        journal: JournalWriter | None = None,
        journal_store: JournalStore | None = None,
    ) -> None:
        locale = locale_of(message)
        word = (command.args or "").strip()
        if word and word.casefold() not in EVERYONE_WORDS:
            await message.answer(say(locale, "history_usage", input=word[:24]))
            return
        if message.from_user is None:
            await message.answer(say(locale, "off"))
            return
        everyone, admin_id = bool(word), message.from_user.id
        entries = await read(
            message,
            locale,
            journal,
            journal_store,
            "/history",
            lambda store: store.recent(HISTORY_LIMIT, None if everyone else admin_id),
        )
        if entries is None:
            return
        context = history_context(config, locale, entries, everyone=everyone)
        buttons = [
            [
                InlineKeyboardButton(
                    text=say(
                        locale,
                        "reopen_button",
                        number=e.quote_no,
                        amount=e.amount_given,
                        give=e.give,
                        get=e.get,
                    ),
                    callback_data=f"{REOPEN_PREFIX}{e.entry_id}",
                )
            ]
            for e in entries
        ]
        await message.answer(
            renderer.window(locale, HISTORY, context),
            reply_markup=InlineKeyboardMarkup(inline_keyboard=buttons) if buttons else None,
        )

    @router.callback_query(ReopenButton())
    async def reopen(
        callback: CallbackQuery,
        dialog_manager: DialogManager,
        journal: JournalWriter | None = None,
        journal_store: JournalStore | None = None,
    ) -> None:
        locale = locale_of(callback)
        if journal_store is None:
            await callback.answer(say(locale, "off"))
            return
        entry_id = (callback.data or "")[len(REOPEN_PREFIX) :]
        try:
            entry = await journal_store.find(entry_id)
        except JournalUnavailableError as exc:
            log.warning("reopening a quote: the journal is unavailable (%s)", exc.cause)
            await callback.answer()
            if isinstance(callback.message, Message):
                await callback.message.answer(unavailable(locale, journal))
            return
        if entry is None:
            await callback.answer(say(locale, "not_found"))
            return
        await callback.answer()
        await open_step(dialog_manager, main_flow, card, card_data(entry))

    @router.message(Command("export"))
    async def export(
        message: Message,
        command: CommandObject,
        journal: JournalWriter | None = None,
        journal_store: JournalStore | None = None,
    ) -> None:
        locale = locale_of(message)
        try:
            period = parse_period(command.args or "", today_in(zone))
        except PeriodError as exc:
            await message.answer(say(locale, exc.code, **exc.params))
            return
        bounds = period.bounds(zone)
        entries = await read(
            message, locale, journal, journal_store, "/export", lambda s: s.between(*bounds)
        )
        if entries is None:
            return
        words = {"period": period.label, "timezone": config.bot.timezone}
        if not entries:
            await message.answer(say(locale, "export_empty", **words))
            return
        document = BufferedInputFile(
            export_csv(entries, config, renderer, locale), filename=period.file_name()
        )
        caption = say(locale, "export_caption", count=len(entries), **words)
        await message.answer_document(document, caption=caption)

    @router.message(Command("today"))
    async def today(
        message: Message,
        journal: JournalWriter | None = None,
        journal_store: JournalStore | None = None,
    ) -> None:
        locale = locale_of(message)
        day = today_in(zone)
        bounds = Period(day, day).bounds(zone)
        entries = await read(
            message, locale, journal, journal_store, "/today", lambda s: s.between(*bounds)
        )
        if entries is None:
            return
        await message.answer(
            renderer.window(locale, TODAY, today_context(config, locale, entries, day))
        )

    return router
