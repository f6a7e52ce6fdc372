"""Start the real ``crypto-helper run`` (or any bot) as a subprocess against the fakes.

The one subprocess helper of the e2e tests and of ``bench/`` (which imports this module as
``tests.e2e.harness``). :func:`write_project` copies config.yaml (provider URLs pointed at
the fakes), flows/ and templates/ into a temporary folder; :class:`BotProcess` runs
``crypto-helper run --config that/config.yaml`` (or another ``command``) in a session of its
own with a fake token and key, captures stdout and stderr to a log file, is ready when it
first polls the fake Telegram (:meth:`BotProcess.start` for a fake on its own thread,
:meth:`BotProcess.started` for one on the caller's event loop), reads its RSS and CPU time
from ``/proc``, and stops with SIGTERM (killed after 10 s). An ``atexit`` hook kills any
process still running when the interpreter exits.
"""

# The wait helpers poll the fake's state with a deadline; "timeout" is their natural name.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import atexit
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

from tests.e2e.fake_providers import API_KEY, FakeProviders
from tests.e2e.fake_telegram import TOKEN, ChatMessage, FakeTelegram
from tests.pgscratch import ScratchDatabase

ROOT = Path(__file__).resolve().parents[2]
ADMIN = 1001
# Every test drives its own admin so that tests sharing a bot process do not share a dialog.
ADMINS = tuple(range(ADMIN, ADMIN + 40))
STRANGER = 4242
SECRETS = {"BOT_TOKEN": TOKEN, "API_LAYER_KEY": API_KEY}
# Variables of the parent that would change how a bot runs; tests and bench set their own.
SCRUBBED = (
    "BOT_TOKEN",
    "ADMIN_IDS",
    "API_LAYER_KEY",
    "RAPIRA_API_KEY",
    "COINGECKO_DEMO_API_KEY",
    "DATA_DIR",
    "METRICS_TOKEN",
    "TELEGRAM_API_URL",
    "REDIS_URL",
    "PORT",
    "CONFIG_PATH",
    "LOG_LEVEL",
    "LOG_FORMAT",
    "WEBHOOK_URL",
    "WEBHOOK_SECRET",
    "DATABASE_URL",
)


def write_project(
    dest: Path, providers: FakeProviders, edits: dict[str, str] | None = None
) -> Path:
    """A copy of the shipped definitions whose providers are the loopback fakes and whose
    HTTP server listens on 127.0.0.1 only; ``edits`` replace further unique texts."""
    dest.mkdir(parents=True, exist_ok=True)
    text = (ROOT / "config.yaml").read_text(encoding="utf-8")
    replacements = {
        "base_url: https://api.rapira.net": f"base_url: {providers.rapira_url}",
        "base_url: https://api.apilayer.com/exchangerates_data": (
            f"base_url: {providers.apilayer_url}"
        ),
        "base_url: https://www.cbr-xml-daily.ru": f"base_url: {providers.cbr_url}",
        "base_url: https://api.coingecko.com/api/v3": f"base_url: {providers.coingecko_url}",
        **(edits or {}),
    }
    for old, new in replacements.items():
        assert text.count(old) == 1, f"config.yaml: expected exactly one {old!r}"
        text = text.replace(old, new)
    assert "https://" not in text, "a provider URL still points to the internet"
    (dest / "config.yaml").write_text(_loopback_server(text), encoding="utf-8")
    for folder in ("flows", "templates"):
        shutil.copytree(ROOT / folder, dest / folder, dirs_exist_ok=True)
    return dest / "config.yaml"


def _loopback_server(text: str) -> str:
    """``server.host: 127.0.0.1``: replace the host that is there, else add one."""
    block = re.search(r"^server:[^\n]*\n((?:[ \t]+\S.*\n|[ \t]*\n)*)", text, re.MULTILINE)
    assert block is not None, "config.yaml has no server: section"
    body = block.group(1)
    if re.search(r"^[ \t]+host:", body, re.MULTILINE):
        body = re.sub(
            r"^([ \t]+)host:.*$", r"\1host: 127.0.0.1", body, count=1, flags=re.MULTILINE
        )
    else:
        body = "  host: 127.0.0.1\n" + body
    return text[: block.start(1)] + body + text[block.end(1) :]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def crypto_helper_command(config: Path, *args: str) -> list[str]:
    """``crypto-helper run --config CONFIG ARGS``: this venv's console script, as shipped."""
    script = Path(sys.executable).with_name("crypto-helper")
    head = [str(script)] if script.exists() else [sys.executable, "-m", "engine.cli"]
    return [*head, "run", "--config", str(config), *args]


def child_env(**values: str) -> dict[str, str]:
    """The parent's environment without bot settings or proxies, plus ``values``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in SCRUBBED and not k.lower().endswith("_proxy")
    }
    env.update(PYTHONUNBUFFERED="1", NO_PROXY="127.0.0.1,localhost")
    env.update(values)
    return env


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` (VmRSS of /proc/<pid>/status), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS in /proc/{pid}/status")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time ``pid`` has used (/proc/<pid>/stat), in seconds."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class BotProcess:
    """One bot process; stdout and stderr go to ``log_path``.

    Args:
        command: the argv; by default :func:`crypto_helper_command` of ``config`` and ``args``
            (more arguments of ``run``, e.g. ``("--offline",)``), run in ``config``'s folder.
    """

    running: ClassVar[set[BotProcess]] = set()

    def __init__(
        self,
        name: str,
        config: Path,
        log_path: Path,
        env: dict[str, str],
        args: tuple[str, ...] = (),
        *,
        command: Sequence[str] | None = None,
    ) -> None:
        self.name = name
        self.config = config
        self.log_path = log_path
        self.env = env
        self.args = args
        self.command = list(command or crypto_helper_command(config, *args))
        self.proc: subprocess.Popen[bytes] | None = None
        self.spawned_at: float | None = None  # time.monotonic() just before the spawn
        self.returncode: int | None = None
        self.stop_seconds: float | None = None
        self.killed = False

    @property
    def pid(self) -> int:
        assert self.proc is not None, f"{self.name} was not started"
        return self.proc.pid

    def spawn(self) -> BotProcess:
        """Start the process, in a session of its own (a Ctrl-C reaches only the parent,
        which stops its children in order), and return at once."""
        with self.log_path.open("ab") as log:
            self.spawned_at = time.monotonic()
            self.proc = subprocess.Popen(
                self.command,
                cwd=self.config.parent,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        BotProcess.running.add(self)
        return self

    def start(
        self, tg: FakeTelegram, timeout: float = 30.0, ready: str = "getUpdates"
    ) -> BotProcess:
        """Start and wait for the bot's first ``ready`` call (``getUpdates`` when polling,
        ``setWebhook`` in webhook mode) that is not refused; a long poll counts as soon as
        it arrives. For a fake served on its own thread (:meth:`FakeTelegram.start`)."""
        mark = tg.mark()
        proc = self.spawn().proc
        assert proc is not None
        try:
            tg.wait_for_sync(
                lambda: (
                    proc.poll() is not None
                    or [c for c in tg.calls(ready, since=mark) if c.status in (0, 200)]
                ),
                timeout,
                f"bot {self.name} to call {ready}",
            )
        except AssertionError:
            self.stop()
            raise RuntimeError(
                f"bot {self.name} made no {ready} call in {timeout} s:\n{self.log()}"
            ) from None
        self._check_alive()
        return self

    async def started(self, ready: Callable[[], object], timeout: float = 60.0) -> BotProcess:
        """Spawn and wait until ``ready()`` is true, polling without blocking the event loop
        (for a fake served on the caller's loop); fail if the process exits meanwhile."""
        deadline = time.monotonic() + timeout
        self.spawn()
        while not ready():
            self._check_alive()
            if time.monotonic() > deadline:
                await asyncio.to_thread(self.stop)
                raise RuntimeError(f"bot {self.name} not ready in {timeout} s:\n{self.log_tail()}")
            await asyncio.sleep(0.01)
        return self

    def _check_alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            self.returncode = self.proc.returncode
            BotProcess.running.discard(self)
            raise RuntimeError(
                f"bot {self.name} exited with {self.returncode}:\n{self.log_tail()}"
            )

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def health(self, path: str = "/health/ready") -> tuple[int, Any]:
        """GET ``path`` on the bot's health port (``PORT`` of its environment): status and
        JSON body. Raises ``OSError`` while nothing listens there."""
        url = f"http://127.0.0.1:{self.env['PORT']}{path}"
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(url, timeout=5) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    async def ready(self, accept: Callable[[Any], object], timeout: float = 60.0) -> float:
        """Poll ``/health/ready`` every 0.1 s (off the event loop) until it answers 200 with a
        body ``accept`` takes; return the seconds it took. Fails if the process exits."""
        started = time.monotonic()
        body: Any = None
        while True:
            try:
                status, body = await asyncio.to_thread(self.health)
            except (OSError, ValueError):
                status = 0
            if status == 200 and accept(body):
                return time.monotonic() - started
            self._check_alive()
            if time.monotonic() - started > timeout:
                raise RuntimeError(f"bot {self.name} not ready in {timeout} s: {body}")
            await asyncio.sleep(0.1)

    def rss_mb(self) -> float:
        return rss_mb(self.pid)

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pid)

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout``; return the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            started = time.monotonic()
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
            self.stop_seconds = time.monotonic() - started
        self.returncode = self.proc.wait()
        BotProcess.running.discard(self)
        return self.returncode

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.killed = True
            self.proc.kill()
            self.proc.wait(5)
        BotProcess.running.discard(self)

    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 150) -> str:
        return "\n".join(self.log().splitlines()[-lines:])


@atexit.register
def _kill_leftovers() -> None:
    for process in list(BotProcess.running):
        process.kill()


class BotLauncher:
    """Starts bot processes against one fake Telegram and one set of fake providers."""

    def __init__(
        self,
        folder: Path,
        tg: FakeTelegram,
        providers: FakeProviders,
        edits: dict[str, str] | None = None,
    ) -> None:
        self.folder = folder
        self.tg = tg
        self.providers = providers
        self.config = write_project(folder / "project", providers, edits)
        self.processes: list[BotProcess] = []
        # Replicas on Redis need the journal on PostgreSQL (SQLite is refused with Redis):
        # one scratch database per launcher, made when first needed, dropped by stop_all.
        self.database: ScratchDatabase | None = None

    def environment(self, **extra: str) -> dict[str, str]:
        env = child_env(
            BOT_TOKEN=TOKEN,
            TELEGRAM_API_URL=self.tg.url,
            ADMIN_IDS=",".join(str(a) for a in ADMINS),
            API_LAYER_KEY=API_KEY,
            PORT=str(free_port()),
            LOG_LEVEL="DEBUG",
        )
        env.update(extra)
        return env

    def start(
        self, ready: str = "getUpdates", args: tuple[str, ...] = (), **extra_env: str
    ) -> BotProcess:
        """Start one more process (environment: :meth:`environment` plus ``extra_env``;
        ``args``: more arguments of ``run``, e.g. ``("--offline",)``)."""
        name = f"bot{len(self.processes) + 1}"
        if "REDIS_URL" in extra_env and "DATABASE_URL" not in extra_env:
            if self.database is None:
                self.database = ScratchDatabase().create()
            extra_env["DATABASE_URL"] = self.database.url
        env = self.environment(**extra_env)
        process = BotProcess(name, self.config, self.folder / f"{name}.log", env, args)
        self.processes.append(process)
        return process.start(self.tg, ready=ready)

    def stop_all(self) -> None:
        for process in self.processes:
            process.stop()
        if self.database is not None:
            self.database.drop()
            self.database = None

    def logs(self) -> str:
        return "\n".join(p.log() for p in self.processes)


# -- driving the bot as a person would ------------------------------------------------------

# The result card's keyboard (ru), as the shipped flow declares it.
CARD_BUTTONS = [
    "✏️ Наценка",
    "✏️ Сумма",
    "⇄ Обратный обмен",
    "📤 Клиенту · RU",
    "📤 Клиенту · EN",
    "← Назад",
    "🔄 Новый расчёт",
]

SCREENS = {
    "ru": {
        "source": "Какую валюту отдаёт клиент?",
        "target": "Какую валюту клиент получает?",
        "margin": "Введите наценку",
        "amount": "Введите сумму",
        "result": "Клиент получает:",
        "unavailable": "Курс сейчас недоступен",
        "cancelled": "Расчёт отменён",
    },
    "en": {
        "source": "Which currency does the client give?",
        "target": "Which currency does the client receive?",
        "margin": "Enter the margin",
        "amount": "Enter the amount",
        "result": "Client gets:",
        "unavailable": "Rate unavailable right now",
        "cancelled": "Quote cancelled",
    },
}


class Person:
    """A Telegram user in the fake: types, taps buttons, looks at the chat."""

    def __init__(self, tg: FakeTelegram, user_id: int, language: str = "ru") -> None:
        self.tg = tg
        self.user_id = user_id
        self.language = language
        self.screens = SCREENS[language]
        self.clicked: list[str] = []

    def send(self, text: str) -> None:
        self.tg.user_sends(self.user_id, text, self.language)

    def click(self, message: ChatMessage, button: str) -> str:
        """Tap the button whose label matches the regex ``button``; return the query id."""
        query = self.tg.user_clicks(self.user_id, message.message_id, button)
        self.clicked.append(query)
        return query

    async def sees(self, text: str | re.Pattern[str], timeout: float = 10.0) -> ChatMessage:
        """Wait for a bot message (new or edited since my last action) showing ``text``."""
        return await self.tg.wait_for_screen(self.user_id, text, timeout=timeout)

    async def sees_screen(self, step: str, timeout: float = 10.0) -> ChatMessage:
        return await self.sees(self.screens[step], timeout)

    async def open_step(
        self, step: str, give: str = "RUB", get: str = "USDT", margin: str = "2"
    ) -> ChatMessage:
        """Start a quote and walk to ``step`` (source, target, margin or amount)."""
        self.send("/admin_bot")
        return await self.walk(await self.sees_screen("source"), step, give, get, margin)

    async def walk(
        self,
        screen: ChatMessage,
        step: str,
        give: str = "RUB",
        get: str = "USDT",
        margin: str = "2",
    ) -> ChatMessage:
        """From the source screen ``screen``, walk to ``step`` (source … amount)."""
        if step == "source":
            return screen
        self.click(screen, rf"\b{give}$")
        screen = await self.sees_screen("target")
        if step == "target":
            return screen
        self.click(screen, rf"\b{get}$")
        screen = await self.sees_screen("margin")
        if step == "margin":
            return screen
        self.send(margin)
        return await self.sees_screen("amount")

    async def quote(
        self, give: str, get: str, *, margin: str, amount: str, margin_button: str | None = None
    ) -> ChatMessage:
        """The whole dialog; returns the last screen (the result card, or what came instead)."""
        self.send("/admin_bot")
        screen = await self.sees_screen("source")
        return await self.quote_from(
            screen, give, get, margin=margin, amount=amount, margin_button=margin_button
        )

    async def quote_from(
        self,
        screen: ChatMessage,
        give: str,
        get: str,
        *,
        margin: str,
        amount: str,
        margin_button: str | None = None,
    ) -> ChatMessage:
        """:meth:`quote` from a source screen already shown (a restarted dialog)."""
        screen = await self.walk(screen, "margin", give, get)
        if margin_button is not None:
            self.click(screen, margin_button)
        else:
            self.send(margin)
        await self.sees_screen("amount")
        self.send(amount)
        return await self.sees(
            re.compile("|".join(re.escape(self.screens[s]) for s in ("result", "unavailable")))
        )

    async def all_clicks_answered(self, timeout: float = 5.0) -> None:
        await self.tg.wait_for(
            lambda: set(self.clicked) <= self.tg.answered_callbacks,
            timeout,
            f"answers to every callback query of user {self.user_id}",
            self.user_id,
        )

    def refusals(self) -> list[str]:
        """What Telegram refused from the bot in this chat (none expected)."""
        return [f"{c.method}: {c.description}" for c in self.tg.errors(chat_id=self.user_id)]


def assert_no_secrets(log: str) -> None:
    assert log.strip(), "the bot wrote no log at all"
    for name, value in SECRETS.items():
        for secret in {value, value.split(":", 1)[-1]}:
            assert secret not in log, f"the log contains the value of {name}"
