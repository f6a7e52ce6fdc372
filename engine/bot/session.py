"""The Bot API session: aiogram's, sending a JSON body instead of an HTML form.

Why hand-written: aiogram's :class:`AiohttpSession` posts every method as a form: each
nested object (the inline keyboard) is serialised to a JSON string, then the whole form is
percent-encoded, emoji byte by byte, through aiohttp's ``FormData``. The Bot API takes
``application/json`` as well ("except for uploading files", core.telegram.org/bots/api
#making-requests), which is one ``json_dumps`` of the same parameters. bench/ measured the
form at about a tenth of the bot's CPU per reply. Requests carrying files still go out as
aiogram's multipart form. Everything else is aiogram's: the parameters are prepared by its
``prepare_value`` (defaults, enums, dates), the answer is checked by its
``check_response``, request middlewares (our 429 retry) wrap this as before.

The one private aiogram API here: ``prepare_value(..., _dumps_json=False)`` (in
:func:`prepared_params`), which prepares a value without dumping nested objects to JSON
strings, as aiogram does internally for the items of a dict or list. Measured again for
issue 14 (one ``sendMessage`` with the first window's keyboard, 1 000 times over loopback
to an aiohttp server in another process): 181 µs of the bot's CPU per request as JSON,
222 µs as aiogram's form. Kept, although 41 µs a request is nothing at a desk's rate:
``crypto-helper chat`` (:mod:`engine.studio.botapi`) needs the un-dumped parameters anyway
(to answer as Telegram would), so dropping the JSON body would not drop the private call,
and the burst comparison with the reference bot counts every reply's CPU. The call is
guarded by ``tests/engine/test_private_api_contracts.py``, which fails naming the installed
aiogram when the keyword or its behaviour changes.

One exception: a ``getUpdates`` answer is read update by update
(:mod:`engine.bot.updates`), so one update aiogram cannot parse is skipped instead of
failing the whole batch, and the next ``getUpdates`` confirms it. aiogram's own parsing
would raise ``ClientDecodeError`` for the batch and poll the same offset again.

And one addition: :attr:`JsonBodySession.allowed_updates`, when set, is what every
``getUpdates`` asks for. aiogram fixes the update types when polling starts; a reload whose
flows handle other types (inline queries) sets them here, and the next ``getUpdates`` asks
for them, with no restart of polling (which could lose the offset of updates in hand).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any, cast

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.base import BaseSession
from aiogram.exceptions import TelegramNetworkError
from aiogram.methods import GetUpdates, TelegramMethod
from aiogram.methods.base import Response, TelegramType
from aiogram.types import Update
from aiohttp import ClientError, ClientTimeout

from engine.bot.updates import SkippedUpdates, parse_updates

JSON_HEADERS = {"Content-Type": "application/json"}


def prepared_params(
    session: BaseSession, bot: Bot, method: TelegramMethod[Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``method``'s parameters as aiogram prepares them for the wire, nested objects still
    dicts and lists (not JSON strings), unset ones left out; and the files to upload (by
    ``attach://`` name).

    aiogram's private ``_dumps_json`` keyword: see the module docstring.
    """
    files: dict[str, Any] = {}
    params: dict[str, Any] = {}
    for key, value in method.model_dump(warnings=False).items():
        prepared = session.prepare_value(value, bot=bot, files=files, _dumps_json=False)
        if prepared is not None:
            params[key] = prepared
    return params, files


class JsonBodySession(AiohttpSession):
    """:class:`AiohttpSession` that posts parameters as one JSON object.

    Args:
        skipped: where updates that cannot be parsed are recorded (a new one by default).
        **kwargs: :class:`AiohttpSession`'s (``api``, ``proxy``, ``timeout``…).
    """

    def __init__(self, *, skipped: SkippedUpdates | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.skipped = skipped if skipped is not None else SkippedUpdates()
        # None: as aiogram's polling asks (the types used when it started).
        self.allowed_updates: list[str] | None = None

    def json_body(self, bot: Bot, method: TelegramMethod[TelegramType]) -> str | None:
        """The request body, or None when the method uploads files (a form is needed).

        Like aiogram's form, it leaves out parameters that are unset or empty strings.
        """
        params, files = prepared_params(self, bot, method)
        if files:
            return None
        return self.json_dumps({key: value for key, value in params.items() if value != ""})

    async def make_request(
        self,
        bot: Bot,
        method: TelegramMethod[TelegramType],
        timeout: int | None = None,  # noqa: ASYNC109 - aiogram's signature
    ) -> TelegramType:
        if isinstance(method, GetUpdates):
            self.skipped.confirm(bot, method)
            if self.allowed_updates is not None:
                method.allowed_updates = self.allowed_updates
        body = self.json_body(bot, method)
        if body is None:
            return await super().make_request(bot, method, timeout)
        session = await self.create_session()
        url = self.api.api_url(token=bot.token, method=method.__api_method__)
        try:
            async with session.post(
                url,
                data=body,
                headers=JSON_HEADERS,
                timeout=ClientTimeout(total=self.timeout if timeout is None else timeout),
            ) as resp:
                raw_result = await resp.text()
        except TimeoutError as exc:
            raise TelegramNetworkError(method=method, message="Request timeout error") from exc
        except ClientError as exc:
            message = f"{type(exc).__name__}: {exc}"
            raise TelegramNetworkError(method=method, message=message) from exc
        response = self.check_response(
            bot=bot, method=method, status_code=resp.status, content=raw_result
        )
        return cast(TelegramType, response.result)

    def check_response(
        self,
        bot: Bot,
        method: TelegramMethod[TelegramType],
        status_code: int,
        content: str,
    ) -> Response[TelegramType]:
        """aiogram's check, except that a successful ``getUpdates`` is read update by update."""
        if isinstance(method, GetUpdates) and status_code == HTTPStatus.OK:
            updates = self.read_updates(bot, content)
            if updates is not None:
                return cast(Response[TelegramType], updates)
        return super().check_response(bot, method, status_code, content)

    def read_updates(self, bot: Bot, content: str) -> Response[list[Update]] | None:
        """The updates of a successful ``getUpdates`` answer that aiogram can read, the
        others recorded in :attr:`skipped`; None when the answer is not a successful list
        (aiogram's check then raises what it raises)."""
        try:
            data = self.json_loads(content)
        except ValueError:
            return None
        if not isinstance(data, dict) or data.get("ok") is not True:
            return None
        raw = data.get("result")
        if not isinstance(raw, list):
            return None
        updates = parse_updates(raw, bot, self.skipped)
        # Already validated, item by item: no second pass over the batch.
        return Response[list[Update]].model_construct(ok=True, result=updates)
