"""What the engine relies on in aiogram and aiogram-dialog beyond their documented API.

Issue 14 went through every such use; each one either went (replaced by public API) or stays
here, checked against the installed library, so that a release which changes it fails this
file, naming the version and what to do, instead of failing a desk in production.

Stayed:

* ``BaseSession.prepare_value(..., _dumps_json=False)`` (``engine.bot.session.prepared_params``:
  the JSON request body, and ``crypto-helper chat``'s local Bot API).
* ``Text._render_text``, aiogram-dialog's documented hook for custom texts
  (``engine.flow.builder``'s ``TemplateText`` and ``Label``).

Went (public API now), with what the engine still assumes of that public API checked here too:

* ``Keyboard._render_keyboard`` and ``aiogram_dialog.api.internal`` (``engine.flow.keyboard``):
  the memo wraps ``render_keyboard``; the markup factory is structural.
* ``MemoryStorage.storage`` (``engine.bot.storage.CompactMemoryStorage``): a ``BaseStorage``.

And ``gc.freeze`` (``engine.bot.warmup``), public in the standard library, whose effect the
reload relies on: frozen objects are not collected until :func:`refreeze_heap`.
"""

from __future__ import annotations

import contextlib
import datetime
import gc
import inspect
import json
import weakref
from collections.abc import Iterator
from importlib.metadata import version
from typing import Any

import pytest
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.base import BaseSession
from aiogram.enums import ParseMode
from aiogram.methods import SendDocument, SendMessage
from aiogram.types import (
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
)
from aiogram_dialog import Window
from aiogram_dialog.widgets.kbd import Button
from aiogram_dialog.widgets.text import Const, Text

from engine.bot.session import JsonBodySession, prepared_params
from engine.bot.warmup import freeze_heap, refreeze_heap
from engine.flow.keyboard import IntentMarkup, MemoKeyboard

AIOGRAM = f"aiogram {version('aiogram')}"
DIALOG = f"aiogram-dialog {version('aiogram-dialog')}"
PREPARE_VALUE_BROKE = (
    f"{AIOGRAM}: BaseSession.prepare_value(value, bot=..., files=..., _dumps_json=False) no "
    "longer returns values un-dumped (nested objects as dicts and lists, defaults resolved, "
    "files collected). engine/bot/session.py (prepared_params) relies on it for the JSON "
    "request body and crypto-helper chat's local Bot API: adapt prepared_params to this "
    "aiogram, or cap aiogram below this version in pyproject.toml until it is."
)
KEYBOARD_BROKE = (
    f"{DIALOG}: a Window no longer renders its keyboard through Keyboard.render_keyboard and "
    "hands those very rows, unmodified, to its markup_factory. engine/flow/keyboard.py "
    "(MemoKeyboard keeps the rendered rows, IntentMarkup copies them with the intent prefix) "
    "relies on it: adapt it to this aiogram-dialog or cap the version in pyproject.toml."
)
TEXT_BROKE = (
    f"{DIALOG}: Text.render_text no longer renders a Text subclass through its _render_text "
    "(aiogram-dialog's documented hook for custom texts, which keeps the when= condition). "
    "engine/flow/builder.py (TemplateText, Label) overrides only _render_text: override "
    "render_text there instead, or cap aiogram-dialog in pyproject.toml."
)
TOKEN = "42:CONTRACT"


@contextlib.contextmanager
def contract(message: str) -> Iterator[None]:
    """Any error inside (a keyword gone, an attribute renamed) fails with ``message``."""
    try:
        yield
    except Exception as exc:
        pytest.fail(f"{message}\n(what happened: {type(exc).__name__}: {exc})")


class Session(BaseSession):
    """aiogram's base session, nothing sent: only ``prepare_value`` is used."""

    async def close(self) -> None:  # pragma: no cover - never opened
        pass

    async def make_request(self, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover
        raise AssertionError("nothing is sent")

    async def stream_content(self, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover
        raise AssertionError("nothing is streamed")


@pytest.fixture
def bot() -> Bot:
    return Bot(TOKEN, session=Session(), default=DefaultBotProperties(parse_mode=ParseMode.HTML))


def keyboard_message() -> SendMessage:
    """A reply as the bot sends one: a default (parse mode), an enum, a nested keyboard."""
    return SendMessage(
        chat_id=7,
        text="Курс 🚀",
        reply_markup=InlineKeyboardMarkup(
            inline_keyboard=[
                [InlineKeyboardButton(text="₽ RUB", callback_data="x\x1dsrc:RUB")],
                [InlineKeyboardButton(text="site", url="https://example.com")],
            ]
        ),
        link_preview_options=LinkPreviewOptions(is_disabled=True),
    )


def test_prepare_value_takes_dumps_json() -> None:
    parameter = inspect.signature(BaseSession.prepare_value).parameters.get("_dumps_json")
    assert parameter is not None and parameter.default is True, PREPARE_VALUE_BROKE


def test_prepared_params_are_not_dumped(bot: Bot) -> None:
    with contract(PREPARE_VALUE_BROKE):
        params, files = prepared_params(bot.session, bot, keyboard_message())
    expected = {
        "chat_id": 7,
        "text": "Курс 🚀",
        "parse_mode": "HTML",  # the bot's default, resolved
        "reply_markup": {
            "inline_keyboard": [
                [{"text": "₽ RUB", "callback_data": "x\x1dsrc:RUB"}],
                [{"text": "site", "url": "https://example.com"}],
            ]
        },
        "link_preview_options": {"is_disabled": True},
    }
    assert files == {}, PREPARE_VALUE_BROKE
    assert {key: params.get(key) for key in expected} == expected, PREPARE_VALUE_BROKE
    assert all(value is not None for value in params.values()), PREPARE_VALUE_BROKE


def test_scalars_and_dates_are_prepared_as_aiogram_sends_them(bot: Bot) -> None:
    session = bot.session
    when = datetime.datetime(2030, 1, 2, tzinfo=datetime.UTC)
    with contract(PREPARE_VALUE_BROKE):
        prepared = [
            session.prepare_value(value, bot=bot, files={}, _dumps_json=False)
            for value in (True, 3, 1.5, "s", None, ParseMode.HTML, when, [1, None, {"a": None}])
        ]
    assert prepared == [True, 3, 1.5, "s", None, "HTML", str(int(when.timestamp())), [1, {}]], (
        PREPARE_VALUE_BROKE
    )


def test_files_are_collected_not_dumped(bot: Bot) -> None:
    document = BufferedInputFile(b"a,b\n", filename="quotes.csv")
    with contract(PREPARE_VALUE_BROKE):
        params, files = prepared_params(
            bot.session, bot, SendDocument(chat_id=7, document=document)
        )
    assert list(files.values()) == [document], PREPARE_VALUE_BROKE
    assert params["document"] == f"attach://{next(iter(files))}", PREPARE_VALUE_BROKE


def test_the_json_body_is_one_object_a_form_is_left_for_files(bot: Bot) -> None:
    session = JsonBodySession()
    document = BufferedInputFile(b"a,b\n", filename="quotes.csv")
    with contract(PREPARE_VALUE_BROKE):
        body = session.json_body(bot, keyboard_message())
        form = session.json_body(bot, SendDocument(chat_id=7, document=document))
    assert body is not None and form is None, PREPARE_VALUE_BROKE
    sent = json.loads(body)
    assert sent["reply_markup"]["inline_keyboard"][0][0]["text"] == "₽ RUB", PREPARE_VALUE_BROKE


class Context:
    id = "ctx"


class Manager:
    """What a window's keyboard rendering asks of the dialog manager."""

    def current_context(self) -> Context:
        return Context()


async def test_a_window_hands_the_rendered_rows_to_its_markup_factory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    renders: list[str] = []
    original = Button.render_keyboard

    async def counted(self: Button, data: dict[str, Any], manager: Any) -> Any:
        renders.append(self.widget_id or "")
        return await original(self, data, manager)

    monkeypatch.setattr(Button, "render_keyboard", counted)
    memo = MemoKeyboard(Button(Const("A"), id="a"), key=lambda data: data["locale"])
    window = Window(Const("t"), memo, state=None, markup_factory=IntentMarkup())  # type: ignore[arg-type]
    manager: Any = Manager()
    with contract(KEYBOARD_BROKE):
        first = await window.render_kbd({"locale": "ru"}, manager)
        again = await window.render_kbd({"locale": "ru"}, manager)
    assert renders == ["a"], KEYBOARD_BROKE  # rendered once, then kept
    expected = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="A", callback_data="ctx\x1da")]]
    )
    assert first == again == expected, KEYBOARD_BROKE
    kept = await memo.render_keyboard({"locale": "ru"}, manager)
    assert kept[0][0].callback_data == "a", KEYBOARD_BROKE  # the kept button is unmodified
    await window.render_kbd({"locale": "en"}, manager)
    assert renders == ["a", "a"], KEYBOARD_BROKE


class Hook(Text):
    """A custom text as engine/flow/builder.py writes them: only ``_render_text``."""

    async def _render_text(self, data: dict[str, Any], manager: Any) -> str:
        return f"text for {data['who']}"


async def test_a_text_renders_through_its_render_text_hook() -> None:
    manager: Any = Manager()
    with contract(TEXT_BROKE):
        shown = await Hook().render_text({"who": "desk"}, manager)
        hidden = await Hook(when=lambda data, widget, manager: False).render_text({}, manager)
    assert (shown, hidden) == ("text for desk", ""), TEXT_BROKE


@pytest.mark.slow  # three full collections of the test process
def test_frozen_objects_wait_for_refreeze() -> None:
    class Node:
        pass

    node = Node()
    node.self = node  # type: ignore[attr-defined]  # a cycle: only the collector frees it
    alive = weakref.ref(node)
    try:
        freeze_heap()
        assert gc.get_freeze_count() > 0
        del node
        gc.collect()
        assert alive() is not None, "gc.freeze() no longer keeps frozen objects from collection"
        refreeze_heap()
        assert alive() is None, "refreeze_heap() no longer frees what was frozen and is garbage"
    finally:
        gc.unfreeze()
