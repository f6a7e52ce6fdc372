"""The webhook endpoint: aiogram's handler, reading the body itself.

aiogram's :class:`SimpleRequestHandler` reads the body with ``request.json()`` and parses
the update in the task that handles it: a body that is not JSON is a 500 with an ERROR
traceback, one that is not an update is "Task exception was never retrieved" after a 200.
:class:`UpdateRequestHandler` answers what Telegram can act on:

* 400 for a body that is not JSON, or not an update (no integer ``update_id``): nothing
  Telegram would send, so nothing to retry; one WARNING, counted as ``malformed``;
* 200 for an update aiogram's models reject (an update part newer than this aiogram):
  skipped as in polling (:mod:`engine.bot.updates`), so Telegram does not send it again;
* otherwise the update is handled as aiogram handles it (in the background by default).

Everything else (the secret check, the reply written into the webhook answer) is aiogram's.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.methods import TelegramMethod
from aiogram.types import Update
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

from engine.bot.updates import SkippedUpdates, parse_update

log = logging.getLogger(__name__)


class UpdateRequestHandler(SimpleRequestHandler):
    """:class:`SimpleRequestHandler` that rejects bodies that are not updates with a 400
    and skips updates aiogram cannot read with a 200.

    Args:
        dispatcher: the dispatcher to feed.
        bot: the bot the updates are for.
        skipped: where rejected bodies and skipped updates are recorded.
        secret_token: the ``X-Telegram-Bot-Api-Secret-Token`` Telegram sends.
        **data: passed to the handlers, as with aiogram's handler.
    """

    def __init__(
        self,
        dispatcher: Dispatcher,
        bot: Bot,
        *,
        skipped: SkippedUpdates,
        secret_token: str | None = None,
        handle_in_background: bool = True,
        **data: Any,
    ) -> None:
        super().__init__(
            dispatcher,
            bot,
            handle_in_background=handle_in_background,
            secret_token=secret_token,
            **data,
        )
        self.skipped = skipped

    async def read_update(self, bot: Bot, request: web.Request) -> Update | None:
        """The update in the body, or None when it is one aiogram cannot read (skipped).

        Raises:
            web.HTTPBadRequest: the body is not JSON, or not an update.
        """
        try:
            raw = bot.session.json_loads(await request.text())
        except ValueError:  # JSONDecodeError, UnicodeDecodeError
            self.skipped.record(bot, None, "malformed", "webhook body is not JSON: answered 400")
            raise web.HTTPBadRequest(text="not JSON") from None
        if not isinstance(raw, dict) or not isinstance(raw.get("update_id"), int):
            self.skipped.record(bot, None, "malformed", "webhook body is not an update: 400")
            raise web.HTTPBadRequest(text="not a Telegram update")
        return parse_update(raw, bot, self.skipped)

    async def feed(self, bot: Bot, update: Update) -> None:
        """Handle one update in the background, as aiogram does; a failure that escapes
        the errors router is logged here, not as "Task exception was never retrieved"."""
        try:
            result = await self.dispatcher.feed_update(bot, update, **self.data)
            if isinstance(result, TelegramMethod):
                await self.dispatcher.silent_call_request(bot=bot, result=result)
        except Exception:
            log.exception("update %d failed", update.update_id)

    async def _handle_request_background(self, bot: Bot, request: web.Request) -> web.Response:
        update = await self.read_update(bot, request)
        if update is not None:
            task = asyncio.create_task(self.feed(bot, update))
            self._background_feed_update_tasks.add(task)
            task.add_done_callback(self._background_feed_update_tasks.discard)
        return web.json_response({}, dumps=bot.session.json_dumps)

    async def _handle_request(self, bot: Bot, request: web.Request) -> web.Response:
        update = await self.read_update(bot, request)
        result: TelegramMethod[Any] | None = None
        if update is not None:
            result = await self.dispatcher.feed_webhook_update(bot, update, **self.data)
        return web.Response(body=self._build_response_writer(bot=bot, result=result))
