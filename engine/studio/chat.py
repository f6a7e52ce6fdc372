"""``crypto-helper chat``: the real bot, offline, in a terminal.

The bot is the one ``crypto-helper run --offline`` starts — the same validation, the same
dispatcher with its flows, commands, access control and middlewares (built by the
composition root and handed in as ``app_factory``), static rates — with a
:class:`~engine.studio.botapi.LocalBotAPI` in place of Telegram: no token, no network.
Unlike ``run`` it keeps no quote journal, so nothing is written to disk. The person at the
terminal is the chat's only user, and an admin.

What the terminal shows is what a Telegram client would: each message the bot sends or
edits, its HTML drawn as text (:func:`engine.studio.richtext.to_terminal`; ANSI styles on a
terminal, plain text when stdout is not one or ``NO_COLOR`` is set), its inline keyboard as
numbered buttons, and pop-ups. What the person types:

* a number of a button of the current keyboard (the newest message that has one) taps it;
* ``/quit``, or Ctrl-D, leaves (exit 0); Ctrl-C leaves with 130;
* anything else is sent as a message, ``/commands`` included; a leading ``'`` sends the
  rest as typed (``'2`` sends "2" where 2 would tap a button).

A failure inside the bot on one update is printed and the chat goes on, as the bot in
Telegram goes on with the next update.

Why hand-written: a terminal front end for aiogram does not exist; the loop is ``input()``
(with ``readline`` editing and history on a terminal) between runs of one asyncio loop
(:class:`asyncio.Runner`), which the bot's state lives in.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, TextIO

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.enums import ParseMode

from engine.check import validate
from engine.config.loader import config_path
from engine.definitions import Definitions
from engine.errors import EngineError
from engine.logs import setup_logging
from engine.studio.botapi import TOKEN, Button, ChatMessage, LocalBotAPI, Shown
from engine.studio.richtext import to_terminal

log = logging.getLogger(__name__)

QUIT = frozenset({"/quit", "/exit"})
LITERAL = "'"
DEFAULT_USER_ID = 1
EXIT_INTERRUPTED = 130
EXIT_USER_ERROR = 2
PROMPT = "you › "
AppFactory = Callable[..., AbstractAsyncContextManager[Any]]
"""``app_factory(defs, bot, admins=...)``: an async context manager yielding the wired app
(anything with a ``dispatcher``), e.g. :func:`engine.app.local_app`."""


def wants_ansi(stream: TextIO, environ: Mapping[str, str]) -> bool:
    """ANSI styles for a terminal, unless ``NO_COLOR`` is set or ``TERM`` is ``dumb``."""
    if "NO_COLOR" in environ or environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


@dataclass
class Screen:
    """Draws what the bot shows on a text stream."""

    out: TextIO
    ansi: bool

    def style(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.ansi else text

    def line(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def note(self, text: str) -> None:
        """A line from the chat itself (not the bot): dim."""
        self.line(self.style(text, "2"))

    def message(self, message: ChatMessage, *, edited: bool = False) -> None:
        who = "bot (edited)" if edited else "bot"
        self.line(self.style(f"{who}:", "1;32"))
        for text_line in to_terminal(message.html, ansi=self.ansi).split("\n"):
            self.line(f"  {text_line}" if text_line else "")
        number = 0
        for row in message.keyboard:
            labels = []
            for button in row:
                number += 1
                labels.append(self.style(f"[{number}] {button.text}", "1;36"))
            self.line("  " + "   ".join(labels))
        self.line()

    def popup(self, text: str) -> None:
        self.line(self.style("bot (pop-up):", "1;33") + f" {text}")
        self.line()


@dataclass
class Chat:
    """One chat: what the user typed goes to the bot, what the bot shows is drawn.

    Args:
        api: the local Bot API the bot talks to.
        bot: the bot (its session is ``api``).
        dispatcher: the bot's dispatcher.
        screen: where the chat is drawn.
    """

    api: LocalBotAPI
    bot: Bot
    dispatcher: Dispatcher
    screen: Screen

    def current(self) -> ChatMessage | None:
        """The newest message with a keyboard: typed numbers tap its buttons."""
        with_buttons = [m for m in self.api.messages.values() if m.from_bot and m.buttons]
        return max(with_buttons, key=lambda m: m.message_id, default=None)

    def read(self, line: str) -> tuple[ChatMessage, Button] | str | None:
        """What a typed line means: a tap, a text to send, or nothing (an empty line)."""
        if line.startswith(LITERAL):
            return line[len(LITERAL) :] or None
        text = line.strip()
        if not text:
            return None
        current = self.current()
        if current is not None and text.isdecimal() and text.isascii():
            number = int(text)
            if 1 <= number <= len(current.buttons):
                return current, current.buttons[number - 1]
        return line

    async def send(self, line: str) -> None:
        """Act on one typed line and draw what the bot shows in reply."""
        action = self.read(line)
        if action is None:
            return
        if isinstance(action, str):
            update = self.api.message_update(action)
        else:
            message, button = action
            if button.callback_data is None:
                self.screen.note(f"(a link: {button.url})" if button.url else "(nothing to tap)")
                return
            update = self.api.tap_update(message, button)
        await self.feed(update)

    async def feed(self, update: dict[str, Any]) -> None:
        try:
            await self.dispatcher.feed_raw_update(self.bot, update)
        except Exception as exc:  # the bot failed on this update; the chat goes on
            log.debug("update %s failed", update.get("update_id"), exc_info=True)
            self.screen.note(f"(the bot failed on this: {type(exc).__name__}: {exc})")
        self.draw(self.api.drain())

    def draw(self, shown: Iterable[Shown]) -> None:
        for item in shown:
            if item.kind == "popup":
                self.screen.popup(item.text)
            elif item.kind == "sent" and item.message is not None:
                self.screen.message(item.message)
            elif item.message is not None and (
                item.kind == "edited" or (item.kind == "keyboard" and item.message.buttons)
            ):
                self.screen.message(item.message, edited=True)
            # A keyboard taken away or a message deleted: nothing new to read.


def intro(screen: Screen, api: LocalBotAPI, locale: str) -> None:
    """What the chat is and how to use it, with the bot's command menu."""
    screen.note("Crypto Helper, offline: the real bot with the static rates of config.yaml.")
    menu = api.commands.get(locale) or api.commands.get("") or []
    if menu:
        screen.note("Commands:")
        width = max(len(c["command"]) for c in menu) + 1
        for command in menu:
            screen.note(f"  {'/' + command['command']:<{width}}  {command['description']}")
    screen.note(
        "A button's number taps it; other text is sent as a message ('2 sends 2 as text); "
        "/quit or Ctrl-D leaves."
    )
    screen.line()


class ChatOptionError(EngineError):
    """A ``--locale`` or ``--user-id`` the chat cannot use; the message says what would do."""


def chat_locale(defs: Definitions, locale: str | None) -> str:
    """The user's language: ``locale`` (``EN``, ``en-GB`` and ``en_GB`` are ``en``), else the
    bot's default.

    Raises:
        ChatOptionError: ``locale`` is none of the definitions' locales.
    """
    locales = defs.renderer.locales
    if locale is None:
        return defs.config.bot.default_locale
    wanted = locale.strip().casefold().replace("_", "-")
    for candidate in (wanted, wanted.split("-")[0]):
        if candidate in locales:
            return candidate
    raise ChatOptionError(
        f"--locale {locale!r} is not a locale here; locales: {', '.join(locales)}"
    )


def start_chat(
    config_arg: str | None,
    app_factory: AppFactory,
    *,
    locale: str | None = None,
    user_id: int = DEFAULT_USER_ID,
) -> int:
    """``crypto-helper chat``: validate as ``run`` does (problems on stderr, exit 2), then
    :func:`run_chat` on the process's terminal."""
    found = validate(str(config_path(config_arg)))
    for problem in found.problems:
        print(problem, file=sys.stderr)
    if found.definitions is None or found.errors:
        print(
            f"{len(found.errors)} problem(s) found; fix them (crypto-helper check) and start "
            "again.",
            file=sys.stderr,
        )
        return EXIT_USER_ERROR
    try:
        if user_id <= 0:
            raise ChatOptionError(f"--user-id must be a positive number (it is {user_id})")
        language = chat_locale(found.definitions, locale)
    except ChatOptionError as exc:
        print(f"crypto-helper chat: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    # The bot's own warnings (a provider…) go to stderr, not between the messages.
    setup_logging("WARNING", [])
    return run_chat(found.definitions, app_factory, locale=language, user_id=user_id)


def run_chat(
    defs: Definitions,
    app_factory: AppFactory,
    *,
    locale: str,
    user_id: int = DEFAULT_USER_ID,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
) -> int:
    """Chat with the bot built by ``app_factory`` until ``/quit`` or the end of input.

    Args:
        defs: validated definitions.
        app_factory: wires the bot for a given ``Bot`` (see :data:`AppFactory`).
        locale: the user's Telegram language (one of the definitions' locales).
        user_id: the user's (and the chat's) id; made an admin.
        stdin, stdout: the terminal (default: the process's).

    Returns:
        0 on ``/quit`` or end of input, 130 on Ctrl-C.
    """
    stdin = stdin or sys.stdin
    out = stdout or sys.stdout
    screen = Screen(out, wants_ansi(out, os.environ))
    if stdin.isatty():
        with contextlib.suppress(ImportError):
            import readline  # noqa: F401 - line editing and history for input()
    user = {"id": user_id, "is_bot": False, "first_name": "You", "language_code": locale}
    api = LocalBotAPI(user)
    with asyncio.Runner() as runner:
        bot = Bot(TOKEN, session=api, default=DefaultBotProperties(parse_mode=ParseMode.HTML))
        stack = contextlib.AsyncExitStack()
        try:
            app = runner.run(stack.enter_async_context(app_factory(defs, bot, admins={user_id})))
            chat = Chat(api, bot, app.dispatcher, screen)
            api.drain()  # the start-up calls (command menu) show nothing
            intro(screen, api, locale)
            return _loop(runner, chat, stdin, out)
        finally:
            runner.run(stack.aclose())
            runner.run(bot.session.close())


def _loop(runner: asyncio.Runner, chat: Chat, stdin: TextIO, out: TextIO) -> int:
    while True:
        try:
            line = _input(stdin, out)
        except EOFError:
            out.write("\n")
            return 0
        except KeyboardInterrupt:
            out.write("\n")
            return EXIT_INTERRUPTED
        if line.strip().casefold() in QUIT:
            return 0
        try:
            runner.run(chat.send(line))
        except KeyboardInterrupt:
            out.write("\n")
            return EXIT_INTERRUPTED


def _input(stdin: TextIO, out: TextIO) -> str:
    """One typed line (``input()`` on the process's terminal, for readline)."""
    if stdin is sys.stdin and out is sys.stdout and stdin.isatty():
        return input(PROMPT)
    out.write(PROMPT)
    out.flush()
    line = stdin.readline()
    if not line:
        raise EOFError
    line = line.rstrip("\n")
    if not stdin.isatty():  # typed text is not echoed: show it, so the transcript reads
        out.write(line + "\n")
    return line
