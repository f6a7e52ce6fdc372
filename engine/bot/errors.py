"""Errors in the chat, handled once, at router level.

* A button from before a restart, a YAML change or a cancelled dialog (aiogram-dialog's
  ``UnknownIntent`` / ``UnknownState`` / ``OutdatedIntent``): the callback is answered with a
  short notice and the flow starts again in a new message.
* What is not a bug is one line, no traceback (:func:`expected_failure`): a user who
  blocked the bot (403; no notice is sent to them), Telegram's "message is not modified"
  and "query is too old" (INFO, nothing to tell), Telegram or a rates provider down, an
  update that waited too long behind the chat's previous one (WARNING, and the notice).
* Anything else: logged at ERROR with its traceback; the admin gets a short notice with
  Retry and New quote buttons; the process keeps serving everyone else.
* The storage (Redis) unreachable: the same notice, given by a middleware placed before
  aiogram-dialog's, since that one needs the storage to load the dialog.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Router
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.filters import ExceptionTypeFilter
from aiogram.types import (
    ErrorEvent,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    TelegramObject,
    User,
)
from aiogram_dialog import DialogManager, ShowMode, StartMode
from aiogram_dialog.api.exceptions import OutdatedIntent, UnknownIntent, UnknownState

from engine.bot.commands import NEW_DEAL_DATA, RETRY_DATA
from engine.bot.storage import LockWaitTimeoutError
from engine.config.models import AppConfig
from engine.flow.builder import FlowDialog
from engine.locale import user_locale
from engine.messages import FAILURE, base_context
from engine.rates.errors import RatesUnavailableError
from engine.render import Renderer
from providers.errors import ProviderError

log = logging.getLogger("engine.bot")


def storage_errors() -> tuple[type[BaseException], ...]:
    """What the FSM storage raises when Redis is down or slow: redis-py's connection and
    timeout errors, once redis-py is loaded (without Redis storage it never is, and nothing
    can raise them)."""
    exceptions = sys.modules.get("redis.exceptions")
    if exceptions is None:
        return ()
    return (exceptions.ConnectionError, exceptions.TimeoutError)


# Telegram's descriptions of harmless refusals (a repeated click, a late answer).
NOT_MODIFIED = "message is not modified"
QUERY_TOO_OLD = ("query is too old", "query id is invalid")
# Outages, not bugs: Telegram's network or servers, a rates provider.
OUTAGES = (
    TelegramNetworkError,
    TelegramServerError,
    TelegramRetryAfter,
    RatesUnavailableError,
    ProviderError,
    # Waited for the chat's previous update, which is still running: that one is the
    # problem (and reports itself); this one is told to try again.
    LockWaitTimeoutError,
)


def expected_failure(exc: BaseException) -> tuple[int, str, bool] | None:
    """How to report a failure that is not a bug: (log level, what happened, whether to
    send the failure notice); None for a bug (ERROR with the traceback, and the notice)."""
    if isinstance(exc, TelegramForbiddenError):
        return logging.WARNING, f"Telegram refused to write to the user ({exc.message})", False
    if isinstance(exc, TelegramBadRequest):
        text = exc.message.lower()
        if NOT_MODIFIED in text:
            return logging.INFO, "message is not modified (a repeated click)", False
        if any(part in text for part in QUERY_TOO_OLD):
            return logging.INFO, "callback query too old to answer", False
    if isinstance(exc, OUTAGES):
        return logging.WARNING, f"{type(exc).__name__}: {exc}", True
    return None


def _user(event: ErrorEvent) -> User | None:
    update = event.update
    if update.callback_query is not None:
        return update.callback_query.from_user
    if update.message is not None:
        return update.message.from_user
    return None


async def tell_failure(event: ErrorEvent, config: AppConfig, renderer: Renderer) -> None:
    """Show the admin the short failure notice with Retry and New quote buttons."""
    update = event.update
    locale = user_locale(_user(event), renderer.locales, config.bot.default_locale)
    text = renderer.window(locale, FAILURE, base_context(config, locale))
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=renderer.string(locale, "buttons", "retry", {}), callback_data=RETRY_DATA
                ),
                InlineKeyboardButton(
                    text=renderer.string(locale, "buttons", "new_deal", {}),
                    callback_data=NEW_DEAL_DATA,
                ),
            ]
        ]
    )
    try:
        if update.callback_query is not None:
            await update.callback_query.answer()
            message = update.callback_query.message
            if message is not None:
                await update.callback_query.bot.send_message(  # type: ignore[union-attr]
                    message.chat.id, text, reply_markup=keyboard
                )
        elif update.message is not None:
            await update.message.answer(text, reply_markup=keyboard)
    except TelegramAPIError as exc:
        log.warning("could not tell the admin about the failure: %s", exc)


async def answer_quietly(event: ErrorEvent) -> None:
    """Stop the button's spinner, if the update was a click; a refusal is expected here."""
    callback = event.update.callback_query
    if callback is None:
        return
    try:
        await callback.answer()
    except TelegramAPIError as exc:
        log.debug("callback %s not answered: %s", callback.id, exc.message)


class StorageFailureMiddleware(BaseMiddleware):
    """Storage (Redis) unreachable: report it before aiogram-dialog's error middleware,
    which would itself fail loading the dialog stack from the same storage."""

    def __init__(self, config: AppConfig, renderer: Renderer) -> None:
        self.config = config
        self.renderer = renderer

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        if isinstance(event, ErrorEvent) and isinstance(event.exception, storage_errors()):
            log.error(
                "storage unavailable while handling update %s: %s",
                event.update.update_id,
                event.exception,
            )
            await tell_failure(event, self.config, self.renderer)
            return None
        return await handler(event, data)


def create_errors_router(main_flow: FlowDialog, config: AppConfig, renderer: Renderer) -> Router:
    router = Router(name="errors")

    def locale_of(event: ErrorEvent) -> str:
        return user_locale(_user(event), renderer.locales, config.bot.default_locale)

    @router.error(ExceptionTypeFilter(UnknownIntent, UnknownState, OutdatedIntent))
    async def restart_flow(event: ErrorEvent, dialog_manager: DialogManager) -> None:
        log.info("old button or state (%s): restarting the flow", type(event.exception).__name__)
        callback = event.update.callback_query
        if callback is not None:
            text = renderer.string(locale_of(event), "notices", "restarted", {})
            try:
                await callback.answer(text)
            except TelegramAPIError as exc:  # too old to answer: nothing to wait for
                log.info("could not answer an old callback: %s", exc)
        await dialog_manager.start(
            main_flow.state(main_flow.flow.start),
            mode=StartMode.RESET_STACK,
            show_mode=ShowMode.SEND,
        )

    @router.error()
    async def report_failure(event: ErrorEvent) -> None:
        expected = expected_failure(event.exception)
        if expected is None:
            log.error("update %s failed", event.update.update_id, exc_info=event.exception)
            await tell_failure(event, config, renderer)
            return
        level, what, notify = expected
        user = _user(event)
        log.log(
            level,
            "update %s (user %s) not served: %s",
            event.update.update_id,
            user.id if user is not None else "unknown",
            what,
        )
        if notify:
            await tell_failure(event, config, renderer)
        elif level == logging.INFO:
            await answer_quietly(event)

    return router
