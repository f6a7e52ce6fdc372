"""``crypto-helper chat``: the real bot in a terminal, driven in-process and through a pty."""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pexpect
import pytest
from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.enums import ParseMode
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, Message

from engine.app import local_app
from engine.cli import main
from engine.definitions import Definitions, load_definitions
from engine.studio.botapi import TOKEN, LocalBotAPI
from engine.studio.chat import (
    Chat,
    ChatOptionError,
    Screen,
    chat_locale,
    run_chat,
    wants_ansi,
)
from engine.studio.richtext import strip_ansi

ROOT = Path(__file__).resolve().parents[3]
USER_ID = 5
# A keyboard line as the chat prints it: "  [1] 🇷🇺 RUB   [2] 💵 USDT".
SPACES = str.maketrans({"\u00a0": " ", "\u202f": " "})  # Babel's spaces in "1 %", "1 000"
BUTTON = re.compile(r"\[(\d+)\] (.+?)(?=\s{3}\[\d+\]|$)")


@pytest.fixture(scope="module")
def definitions() -> Definitions:
    return load_definitions(ROOT / "config.yaml")


def last_keyboard(transcript: str) -> dict[str, str]:
    """Label → number of the buttons of the last message printed."""
    block = strip_ansi(transcript).rsplit("bot", 1)[-1]
    buttons: dict[str, str] = {}
    for line in block.splitlines():
        for number, label in BUTTON.findall(line.strip()):
            buttons[label.strip()] = number
    return buttons


def number_of(transcript: str, label: str) -> str:
    """The number to type to tap the button whose label contains ``label``."""
    keyboard = {text.translate(SPACES): n for text, n in last_keyboard(transcript).items()}
    found = [n for text, n in keyboard.items() if text == label] or [
        n for text, n in keyboard.items() if label in text
    ]
    assert len(found) == 1, f"{label!r} in {keyboard}\n{transcript}"
    return found[0]


# --- in-process: the Chat over the real dispatcher ---------------------------------------


class Terminal:
    """A Chat over the bot as ``crypto-helper chat`` wires it, printing into a buffer."""

    def __init__(self, chat: Chat, out: io.StringIO) -> None:
        self.chat, self.out = chat, out

    async def type(self, line: str) -> str:
        """Type ``line``; return what the chat printed in reply."""
        start = len(self.out.getvalue())
        await self.chat.send(line)
        return self.out.getvalue()[start:]

    async def tap(self, label: str) -> str:
        return await self.type(number_of(self.out.getvalue(), label))


@contextlib.asynccontextmanager
async def terminal(defs: Definitions, locale: str = "en") -> AsyncIterator[Terminal]:
    api = LocalBotAPI(
        {"id": USER_ID, "is_bot": False, "first_name": "You", "language_code": locale}
    )
    bot = Bot(TOKEN, session=api, default=DefaultBotProperties(parse_mode=ParseMode.HTML))
    out = io.StringIO()
    try:
        async with local_app(defs, bot, admins={USER_ID}) as app:
            api.drain()
            yield Terminal(Chat(api, bot, app.dispatcher, Screen(out, ansi=False)), out)
    finally:
        await bot.session.close()


async def test_a_quote_rub_usdt_tapping_and_typing(definitions: Definitions) -> None:
    async with terminal(definitions) as term:
        shown = await term.type("/admin_bot")
        assert "Which currency does the client give?" in shown
        shown = await term.tap("RUB")
        assert shown.startswith("bot (edited):\n") and "does the client receive?" in shown
        shown = await term.tap("USDT")
        assert "Enter the margin in percent" in shown
        shown = await term.tap("1%")
        assert "Margin: 1%" in shown and "Enter the amount the client gives, in RUB" in shown
        card = await term.type("1000")
        assert card.startswith("bot:\n")  # the card is a new message
        assert "Client rate: 1 USDT = 86.16 RUB" in card
        assert "Client gives: 1,000.00 RUB" in card
        assert "Client gets: 11.60 USDT" in card
        # Another amount on the card: a new card, same direction and margin.
        again = await term.type("2000")
        assert again.startswith("bot:\n") and "Client gets: 23.21 USDT" in again


async def test_a_margin_typed_as_text_with_the_quote_mark(definitions: Definitions) -> None:
    async with terminal(definitions) as term:
        await term.type("/admin_bot")
        await term.tap("RUB")
        await term.tap("USDT")
        assert len(last_keyboard(term.out.getvalue())) > 2  # "2" would tap a button
        shown = await term.type("'2")
        assert "Margin: 2%" in shown


async def test_commands(definitions: Definitions) -> None:
    async with terminal(definitions) as term:
        assert "/admin_bot" in await term.type("/help")
        assert "1 USDT = 85.30 RUB" in await term.type("/rates")
        assert "Client gets: 11.49 USDT" in await term.type("/q 1000 rub usdt 2")
        # No journal in the chat (nothing written to disk): the bot says so.
        off = definitions.renderer.string("en", "journal", "off", {})
        for command in ("/history", "/today", "/export"):
            assert await term.type(command) == f"bot:\n  {off}\n\n", command
        assert "Which currency does the client give?" in await term.type("/start")
        assert (
            await term.type("/cancel")
            == "bot:\n  Quote cancelled. /admin_bot starts a new one.\n\n"
        )
        assert "Nothing to cancel." in await term.type("/cancel")
        shown = await term.type("/admin_bot")
        assert "Which currency does the client give?" in shown
        cancelled = await term.tap("Cancel")
        assert cancelled.startswith("bot (edited):\n  Quote cancelled.")
        assert "Which currency does the client give?" in await term.tap("New quote")


@pytest.mark.parametrize(
    "line",
    [
        "",
        "   ",
        "'",
        "0",
        "99",
        "-1",
        "1e309",
        "NaN",
        "١٢",
        "１",
        "\x00\x1b[31mred\x07",
        "<b>x</b> &amp; <div>",
        "x" * 5000,
        "/unknown",
        "/q",
        "/q 1000 xyz usdt",
        "/cancel",
        "\u200b",
        "🇷🇺",
    ],
)
async def test_bad_input_never_breaks_the_chat(definitions: Definitions, line: str) -> None:
    async with terminal(definitions) as term:
        await term.type("/admin_bot")
        await term.type(line)
        assert "the bot failed" not in term.out.getvalue()
        # The chat goes on: a new quote opens.
        assert "Which currency does the client give?" in await term.type("/admin_bot")


async def test_a_failure_inside_the_bot_is_printed_and_the_chat_goes_on() -> None:
    dispatcher = Dispatcher()

    @dispatcher.message()
    async def boom(message: Message) -> None:
        if message.text == "boom":
            raise RuntimeError("kaput")
        await message.answer(f"<b>{message.text}</b>")

    api = LocalBotAPI({"id": USER_ID, "is_bot": False, "first_name": "You"})
    bot = Bot(TOKEN, session=api, default=DefaultBotProperties(parse_mode=ParseMode.HTML))
    out = io.StringIO()
    chat = Chat(api, bot, dispatcher, Screen(out, ansi=False))
    try:
        await chat.send("boom")
        await chat.send("fine")
    finally:
        await bot.session.close()
    assert out.getvalue() == ("(the bot failed on this: RuntimeError: kaput)\nbot:\n  fine\n\n")


async def test_a_link_button_and_a_number_beyond_the_keyboard() -> None:
    dispatcher = Dispatcher()
    seen: list[str] = []

    @dispatcher.message()
    async def echo(message: Message) -> None:
        seen.append(str(message.text))

    api = LocalBotAPI({"id": USER_ID, "is_bot": False, "first_name": "You"})
    bot = Bot(TOKEN, session=api, default=DefaultBotProperties(parse_mode=ParseMode.HTML))
    out = io.StringIO()
    chat = Chat(api, bot, dispatcher, Screen(out, ansi=False))
    markup = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Site", url="https://rapira.net")]]
    )
    try:
        await bot.send_message(USER_ID, "<i>see</i>", reply_markup=markup)
        chat.draw(api.drain())
        await chat.send("1")
        await chat.send("2")  # one button only: "2" is a message
    finally:
        await bot.session.close()
    assert out.getvalue() == "bot:\n  see\n  [1] Site\n\n(a link: https://rapira.net)\n"
    assert seen == ["2"]


async def test_keyboard_edits_and_deletes() -> None:
    api = LocalBotAPI({"id": USER_ID, "is_bot": False, "first_name": "You"})
    bot = Bot(TOKEN, session=api, default=DefaultBotProperties(parse_mode=ParseMode.HTML))
    out = io.StringIO()
    chat = Chat(api, bot, Dispatcher(), Screen(out, ansi=False))
    one = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="A", callback_data="a")]]
    )
    two = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="B", callback_data="b")]]
    )
    try:
        first = await bot.send_message(USER_ID, "first", reply_markup=one)
        second = await bot.send_message(USER_ID, "second", reply_markup=one)
        chat.draw(api.drain())
        assert chat.current() is api.messages[second.message_id]
        out.truncate(0)
        out.seek(0)
        # A keyboard taken away: nothing new to read; the older keyboard is current again.
        await bot.edit_message_reply_markup(chat_id=USER_ID, message_id=second.message_id)
        chat.draw(api.drain())
        assert out.getvalue() == ""
        assert chat.current() is api.messages[first.message_id]
        # A new keyboard: the message again, with its buttons.
        await bot.edit_message_reply_markup(
            chat_id=USER_ID, message_id=second.message_id, reply_markup=two
        )
        await bot.delete_message(USER_ID, first.message_id)
        chat.draw(api.drain())
        assert out.getvalue() == "bot (edited):\n  second\n  [1] B\n\n"
        await bot.delete_message(USER_ID, second.message_id)
        chat.draw(api.drain())
        assert chat.current() is None
    finally:
        await bot.session.close()


def test_ctrl_c_leaves_with_130(definitions: Definitions) -> None:
    class Interrupted(io.StringIO):
        def readline(self, size: int | None = -1) -> str:
            raise KeyboardInterrupt

    out = io.StringIO()
    code = run_chat(definitions, local_app, locale="en", stdin=Interrupted(), stdout=out)
    assert code == 130 and out.getvalue().endswith("you › \n")


def test_ansi_only_on_a_terminal() -> None:
    tty = SimpleNamespace(isatty=lambda: True)
    pipe = SimpleNamespace(isatty=lambda: False)
    assert wants_ansi(tty, {"TERM": "xterm"})  # type: ignore[arg-type]
    assert not wants_ansi(pipe, {"TERM": "xterm"})  # type: ignore[arg-type]
    assert not wants_ansi(tty, {"TERM": "xterm", "NO_COLOR": ""})  # type: ignore[arg-type]
    assert not wants_ansi(tty, {"TERM": "dumb"})  # type: ignore[arg-type]


def test_screen_styles_with_ansi() -> None:
    out = io.StringIO()
    api = LocalBotAPI({"id": 1, "is_bot": False, "first_name": "You"})
    api.answer("sendMessage", {"chat_id": 1, "text": "<b>B</b>", "parse_mode": "HTML"})
    Screen(out, ansi=True).message(api.drain()[0].message)  # type: ignore[arg-type]
    assert out.getvalue() == "\x1b[1;32mbot:\x1b[0m\n  \x1b[1mB\x1b[0m\n\n"


def test_chat_locale(definitions: Definitions) -> None:
    assert chat_locale(definitions, None) == definitions.config.bot.default_locale
    assert chat_locale(definitions, "EN") == "en"
    assert chat_locale(definitions, "en-GB") == "en"
    assert chat_locale(definitions, "ru_RU") == "ru"
    with pytest.raises(ChatOptionError) as caught:
        chat_locale(definitions, "de")
    assert str(caught.value) == "--locale 'de' is not a locale here; locales: ru, en"


# --- the loop, on a pipe -------------------------------------------------------------------


def run(definitions: Definitions, text: str, locale: str = "en") -> tuple[int, str]:
    out = io.StringIO()
    code = run_chat(
        definitions, local_app, locale=locale, user_id=USER_ID, stdin=io.StringIO(text), stdout=out
    )
    return code, out.getvalue()


def test_end_of_input_leaves_with_0(definitions: Definitions) -> None:
    code, out = run(definitions, "/admin_bot\n")
    assert code == 0
    assert out.startswith(
        "Crypto Helper, offline: the real bot with the static rates of config.yaml.\nCommands:\n"
    )
    assert "you › /admin_bot\nbot:\n" in out and out.endswith("you › \n")


@pytest.mark.parametrize("quit_line", ["/quit", " /QUIT ", "/exit"])
def test_quit(definitions: Definitions, quit_line: str) -> None:
    code, out = run(definitions, f"{quit_line}\n/admin_bot\n")
    assert code == 0 and "bot:" not in out


def test_the_menu_of_the_users_language(definitions: Definitions) -> None:
    _, out = run(definitions, "", locale="ru")
    described = {c.command: c.description["ru"] for c in definitions.config.bot.commands}
    for command, description in described.items():
        assert re.search(rf"^  /{command} +{re.escape(description)}$", out, re.MULTILINE), out


# --- the command ---------------------------------------------------------------------------


def test_a_broken_config_exits_2_with_checks_lines(
    edit: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    edit("config.yaml", "\nlocales: [ru, en]", "\nlocale: [ru, en]")
    assert main(["chat"]) == 2
    err = capsys.readouterr().err
    assert "locale: unknown key; did you mean 'locales'?" in err
    assert err.endswith("problem(s) found; fix them (crypto-helper check) and start again.\n")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--locale", "de"],
            "crypto-helper chat: --locale 'de' is not a locale here; locales: ru, en\n",
        ),
        (
            ["--user-id", "0"],
            "crypto-helper chat: --user-id must be a positive number (it is 0)\n",
        ),
    ],
)
def test_bad_options_exit_2(
    project: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["chat", *args]) == 2
    assert capsys.readouterr().err == message


# --- through a pseudo-terminal, as a person types ---------------------------------------


@pytest.fixture
def spawn(project: Path) -> Iterator[Any]:
    children: list[pexpect.spawn] = []

    def start(*args: str) -> pexpect.spawn:
        env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
        env.update(TERM="xterm", PYTHONUNBUFFERED="1", COLUMNS="160", LINES="50")
        child = pexpect.spawn(
            sys.executable,
            ["-m", "engine.cli", "chat", *args],
            cwd=str(project),
            env={**env, "PYTHONPATH": str(ROOT)},
            encoding="utf-8",
            timeout=30,
            dimensions=(50, 160),
        )
        children.append(child)
        return child

    yield start
    for child in children:
        child.close(force=True)


PROMPT = "you › "


def plain(screen: str) -> str:
    """What a reader sees: no styles, plain spaces."""
    return strip_ansi(screen).translate(SPACES)


def say(child: pexpect.spawn, line: str) -> str:
    """Type ``line`` and Enter; return the screen up to the next prompt."""
    child.sendline(line)
    child.expect_exact(PROMPT)
    return str(child.before)


@pytest.mark.slow  # a crypto-helper chat process on a pseudo-terminal
def test_pty_a_whole_quote_in_russian_then_quit(spawn: Any) -> None:
    child = spawn()
    child.expect_exact(PROMPT)
    intro = str(child.before)
    assert "/admin_bot" in plain(intro)
    screen = say(child, "/admin_bot")
    assert "Какую валюту отдаёт клиент?" in plain(screen)
    assert "\x1b[1m" in screen  # bold, on a terminal
    screen = say(child, number_of(screen, "RUB"))
    assert "Какую валюту клиент получает?" in plain(screen)
    screen = say(child, number_of(screen, "USDT"))
    assert "наценку" in plain(screen)
    screen = say(child, number_of(screen, "1 %"))
    assert "Наценка: 1 %" in plain(screen)
    card = plain(say(child, "1000"))
    assert "Клиент отдаёт: 1 000,00 RUB" in card
    assert "11,60 USDT" in card
    child.sendline("/quit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


@pytest.mark.slow  # a crypto-helper chat process on a pseudo-terminal
def test_pty_in_english_leaves_on_ctrl_d(spawn: Any) -> None:
    child = spawn("--locale", "en", "--user-id", "77")
    child.expect_exact(PROMPT)
    screen = say(child, "/admin_bot")
    screen = say(child, number_of(screen, "RUB"))
    screen = say(child, number_of(screen, "USDT"))
    screen = say(child, number_of(screen, "2.5%"))
    assert "Margin: 2.5%" in plain(screen)
    card = plain(say(child, "1000"))
    assert "Client gets: 11.43 USDT" in card
    assert "not a number" in plain(say(child, "abc"))
    child.sendeof()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
