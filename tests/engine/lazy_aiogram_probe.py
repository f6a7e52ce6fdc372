"""Run by test_lazy_aiogram.py in a fresh interpreter: ``python -m tests.engine.lazy_aiogram_probe
lazy|eager [--schemas]`` imports aiogram one way and prints, as JSON, what the bot's Bot API
traffic looks like through it: the updates of tests/data/telegram/bot_api.json as parsed
(repr, so the class of every nested object shows) and dumped, the request body of every
method the bot calls (the bot's JSON session; the multipart form for a document), and each
method's answer as the session reads it. ``--schemas`` adds the JSON Schema of every type and
method aiogram exports (which builds all of them).
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[1] / "data" / "telegram" / "bot_api.json"


def main(mode: str, schemas: bool) -> dict[str, Any]:
    if mode == "lazy":
        from engine.lazy_aiogram import import_aiogram

        report = import_aiogram()
        assert report.lazy, report.reason
    else:
        import aiogram  # noqa: F401  (aiogram's own eager import)

    from aiogram import Bot, methods, types
    from aiogram.client.default import DefaultBotProperties
    from aiogram.enums import ParseMode
    from aiogram.methods.base import TelegramMethod
    from pydantic import BaseModel

    from engine.bot.session import JsonBodySession

    data = json.loads(DATA.read_text(encoding="utf-8"))
    session = JsonBodySession()
    bot = Bot(
        "123456:TEST-token",
        session=session,
        default=DefaultBotProperties(parse_mode=ParseMode.HTML),
    )
    out: dict[str, Any] = {"updates": [], "requests": {}, "answers": {}}
    for raw in data["updates"]:
        update = types.Update.model_validate(raw, context={"bot": bot})
        out["updates"].append(
            {
                "repr": repr(update),
                "event": type(update.event).__name__,
                "python": repr(update.model_dump(exclude_unset=True)),
                "json": update.model_dump_json(exclude_unset=True),
            }
        )
    keyboard = types.InlineKeyboardMarkup(
        inline_keyboard=[
            [types.InlineKeyboardButton(text="RUB", callback_data="aB3x\x1dsource:RUB")],
            [types.InlineKeyboardButton(text="📤 Клиенту", switch_inline_query="q 100")],
        ]
    )
    calls: dict[str, TelegramMethod[Any]] = {
        "getMe": methods.GetMe(),
        "getUpdates": methods.GetUpdates(
            offset=700000001, timeout=10, allowed_updates=["message"]
        ),
        "sendMessage": methods.SendMessage(
            chat_id=1001, text="<b>Курс</b> 87.01", reply_markup=keyboard
        ),
        "editMessageText": methods.EditMessageText(
            chat_id=1001,
            message_id=17,
            text="Клиент получает: 1 149.29 USDT",
            reply_markup=keyboard,
            link_preview_options=types.LinkPreviewOptions(is_disabled=True),
        ),
        "editMessageText(inline)": methods.EditMessageText(inline_message_id="AAAAAQ", text="x"),
        "editMessageReplyMarkup": methods.EditMessageReplyMarkup(
            chat_id=1001,
            message_id=17,
            reply_markup=types.InlineKeyboardMarkup(inline_keyboard=[]),
        ),
        "sendDocument": methods.SendDocument(
            chat_id=1001,
            document=types.BufferedInputFile(b"number;rate\n1;87.01\n", filename="quotes.csv"),
            caption="Журнал",
        ),
        "deleteMessage": methods.DeleteMessage(chat_id=1001, message_id=17),
        "answerCallbackQuery": methods.AnswerCallbackQuery(
            callback_query_id="4611686018427387001", text="Курс недоступен", show_alert=True
        ),
        "answerInlineQuery": methods.AnswerInlineQuery(
            inline_query_id="981234",
            cache_time=0,
            is_personal=True,
            results=[
                types.InlineQueryResultArticle(
                    id="q-RUB-USDT-100",
                    title="100 RUB → 1.14 USDT",
                    description="87.01",
                    input_message_content=types.InputTextMessageContent(
                        message_text="<b>100 RUB</b> → 1.14 USDT"
                    ),
                    reply_markup=keyboard,
                )
            ],
            button=types.InlineQueryResultsButton(text="Open", start_parameter="desk"),
        ),
        "setMyCommands": methods.SetMyCommands(
            commands=[types.BotCommand(command="admin_bot", description="Новый расчёт")],
            scope=types.BotCommandScopeChat(chat_id=1001),
            language_code="ru",
        ),
        "setWebhook": methods.SetWebhook(
            url="https://desk.example.org/webhook",
            secret_token="s3cr3t",
            allowed_updates=["message", "callback_query"],
            drop_pending_updates=False,
        ),
        "deleteWebhook": methods.DeleteWebhook(drop_pending_updates=False),
    }
    for name, method in calls.items():
        body = session.json_body(bot, method)
        if body is None:  # files: aiogram's multipart form, its random attach:// name masked
            fields = session.build_form_data(bot, method)._fields
            files = {f[0]["name"]: f[0]["filename"] for f in fields if "filename" in f[0]}
            body = repr(
                [
                    (f"<file {files[key]}>", None) if key in files else (key, str(value))
                    for options, _, value in fields
                    for key in [options["name"]]
                ]
            )
            for key in files:
                body = body.replace(key, "<attached>")
        out["requests"][name] = body
        content = json.dumps({"ok": True, "result": data["results"][name]})
        answer = session.check_response(bot, method, 200, content).result
        out["answers"][name] = {
            "repr": repr(answer),
            "json": answer.model_dump_json(exclude_unset=True)
            if isinstance(answer, BaseModel)
            else json.dumps(answer if not isinstance(answer, list) else [repr(a) for a in answer]),
        }
    if schemas:
        out["schemas"] = {
            f"{package.__name__}.{name}": json_schema(model)
            for package in (types, methods)
            for name in package.__all__
            if isinstance(model := getattr(package, name), type)
            and issubclass(model, BaseModel)
            and model not in (TelegramMethod, types.TelegramObject)
        }
    return out


def json_schema(model: Any) -> Any:
    """The model's JSON Schema, or why there is none (a parameter that takes a file)."""
    from pydantic.errors import PydanticInvalidForJsonSchema
    from pydantic.json_schema import PydanticJsonSchemaWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PydanticJsonSchemaWarning)  # Default(...) defaults
        try:
            return model.model_json_schema()
        except PydanticInvalidForJsonSchema as exc:
            return {"error": str(exc)}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], "--schemas" in sys.argv[2:]), ensure_ascii=False))
