"""Commands: /start and /admin_bot open the main flow; /q a one-line quote; /cancel, /help,
/rates."""

from __future__ import annotations

from aiogram import Router
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.filters import BaseFilter, Command, CommandObject, CommandStart, StateFilter
from aiogram.types import CallbackQuery, Message
from aiogram_dialog import DialogManager, ShowMode, StartMode

from engine.bot.oneline import OneLineQuotes, ReadsAsQuote, kept_card_states
from engine.config.models import AppConfig
from engine.flow.builder import FlowDialog
from engine.flow.services import FlowServices
from engine.locale import user_locale
from engine.messages import HELP, RATES, help_context, rates_context
from engine.render import Renderer

START_COMMANDS = ("admin_bot",)
# Buttons under the failure notice (plain callback data, outside any dialog).
NEW_DEAL_DATA = "ch:new"
RETRY_DATA = "ch:retry"


class CallbackData(BaseFilter):
    """``callback.data == value``, as a coroutine: aiogram runs plain callables such as
    ``F.data == value`` in a thread, two thread hops per button press (seen by bench/)."""

    def __init__(self, value: str) -> None:
        self.value = value

    async def __call__(self, callback: CallbackQuery) -> bool:
        return callback.data == self.value


def create_commands_router(main_flow: FlowDialog, config: AppConfig, renderer: Renderer) -> Router:
    router = Router(name="commands")

    def locale_of(message: Message | CallbackQuery) -> str:
        return user_locale(message.from_user, renderer.locales, config.bot.default_locale)

    @router.message(CommandStart())
    @router.message(Command(*START_COMMANDS))
    async def start_flow(message: Message, dialog_manager: DialogManager) -> None:
        await main_flow.start(dialog_manager)

    quotes = OneLineQuotes(main_flow, config, renderer)

    @router.message(Command("q"))
    async def one_line(
        message: Message,
        command: CommandObject,
        dialog_manager: DialogManager,
        flow_services: FlowServices,
    ) -> None:
        """``/q 1000 rub usdt 2``: the result card at once (the dialog opened there)."""
        await quotes.answer(message, command.args or "", flow_services, dialog_manager)

    on_cards = kept_card_states(quotes)

    @router.message(ReadsAsQuote(quotes))
    async def one_line_on_card(
        message: Message, dialog_manager: DialogManager, flow_services: FlowServices
    ) -> None:
        """``500 usdt rub`` typed on a result card: a new quote, not a wrong amount. In
        any other step the step reads it (the filters run before the dialog is known)."""
        if not dialog_manager.has_context():
            raise SkipHandler  # no dialog: the fallback router answers it
        if dialog_manager.current_context().state.state not in on_cards:
            raise SkipHandler
        await quotes.answer(message, message.text or "", flow_services, dialog_manager)

    @router.message(Command("cancel"))
    async def cancel(message: Message, dialog_manager: DialogManager) -> None:
        active = dialog_manager.has_context()
        if active:
            await dialog_manager.reset_stack(remove_keyboard=True)
        key = "cancelled" if active else "nothing_to_cancel"
        await message.answer(renderer.string(locale_of(message), "notices", key, {}))

    @router.message(Command("help"))
    async def show_help(message: Message) -> None:
        locale = locale_of(message)
        await message.answer(renderer.window(locale, HELP, help_context(config, locale)))

    @router.message(Command("rates"))
    async def show_rates(message: Message, flow_services: FlowServices) -> None:
        locale = locale_of(message)
        rows = await flow_services.rates.snapshot()
        await message.answer(renderer.window(locale, RATES, rates_context(config, locale, rows)))

    @router.callback_query(CallbackData(NEW_DEAL_DATA))
    async def new_deal(callback: CallbackQuery, dialog_manager: DialogManager) -> None:
        await callback.answer()
        await dialog_manager.start(
            main_flow.state(main_flow.flow.start),
            mode=StartMode.RESET_STACK,
            show_mode=ShowMode.SEND,
        )

    @router.callback_query(CallbackData(RETRY_DATA))
    async def retry(callback: CallbackQuery, dialog_manager: DialogManager) -> None:
        await callback.answer()
        if dialog_manager.has_context():
            await dialog_manager.show(ShowMode.SEND)
        else:
            await main_flow.start(dialog_manager)

    return router


def create_fallback_router(main_flow: FlowDialog, config: AppConfig, renderer: Renderer) -> Router:
    """Included last: whatever no flow or command took."""
    router = Router(name="fallback")
    quotes = OneLineQuotes(main_flow, config, renderer)

    @router.callback_query()
    async def stray_button(callback: CallbackQuery) -> None:
        """A button nothing handles (e.g. from a removed step): never leave it spinning."""
        await callback.answer()

    @router.message(StateFilter(None))
    async def no_dialog(
        message: Message, dialog_manager: DialogManager, flow_services: FlowServices
    ) -> None:
        """A message from an admin with no dialog open, so no flow's handler matches: the
        dialog is gone (Redis lost its data, ``storage.state_ttl_seconds`` passed, a restart
        with memory storage) or was finished or cancelled. Say so and start a new quote
        from the first step, as for an old button (errors.py), instead of answering
        nothing. A text that reads as a one-line quote (``1000 rub usdt 2``) gets the card."""
        if message.text and quotes.reads_as_quote(message.text):
            await quotes.answer(message, message.text, flow_services, dialog_manager)
            return
        locale = user_locale(message.from_user, renderer.locales, config.bot.default_locale)
        await message.answer(renderer.string(locale, "notices", "start_over", {}))
        await main_flow.start(dialog_manager)

    return router
