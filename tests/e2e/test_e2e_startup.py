"""``crypto-helper run`` refuses to start on a mistake or a missing resource: one line, exit 2.

The configuration and the environment are checked before anything starts; Telegram (the
token, the server), Redis and the health/webhook port as the runtime acquires them. Each
refusal is one stderr line that names the cause and what to do, and nothing else: no
traceback, no asyncio complaint about what was left open, no secret. And the other way
round: ``.env.example`` copied as is, with only the token and the admins filled in, starts
the bot.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.fake_providers import FakeProviders
from tests.e2e.fake_telegram import TOKEN as FAKE_TOKEN
from tests.e2e.fake_telegram import FakeTelegram
from tests.e2e.harness import (
    ADMIN,
    ROOT,
    SCRUBBED,
    BotLauncher,
    BotProcess,
    free_port,
    write_project,
)

TOKEN = "123456789:AAEexampleexampleexampleexampleexam"
# What a refusal must not print: Python's and asyncio's complaints, and the token.
LEAKS = ("Traceback", "Unclosed", "never retrieved", "Exception", "ERROR", "AAAAAAAAAA")


def clean_environment() -> dict[str, str]:
    """This process's environment without what would change how a bot runs."""
    return {
        k: v
        for k, v in os.environ.items()
        if k not in SCRUBBED and not k.lower().endswith("_proxy")
    }


def run(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", "run", *args],
        cwd=cwd,
        env={**clean_environment(), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("env", "line"),
    [
        ({}, "environment: BOT_TOKEN: not set (create a bot with @BotFather and export it)"),
        (
            {"BOT_TOKEN": TOKEN, "ADMIN_IDS": "me"},
            "environment: ADMIN_IDS: Telegram user ids (numbers) separated by commas, like "
            "12345678,87654321",
        ),
    ],
)
def test_bad_environment(tmp_path: Path, env: dict[str, str], line: str) -> None:
    done = run(tmp_path, env, "--config", str(ROOT / "config.yaml"))
    assert done.returncode == 2
    assert done.stderr.splitlines() == [line]
    assert TOKEN not in done.stderr


def test_broken_config(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text((ROOT / "config.yaml").read_text().replace("kind: crypto", "kind: crypt"))
    done = run(tmp_path, {"BOT_TOKEN": TOKEN}, "--config", str(config))
    assert done.returncode == 2
    line, summary = done.stderr.splitlines()  # what `check` says, and what to do
    assert line.endswith(
        "currencies[USDT].kind: 'crypt' is not one of 'fiat', 'crypto'; did you mean 'crypto'?"
    )
    assert summary == "1 problem(s) found; fix them (crypto-helper check) and start again."
    assert "Traceback" not in done.stderr


# -- resources the runtime acquires ---------------------------------------------------------


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, upstreams: FakeProviders) -> Path:
    """The shipped definitions with the fakes as providers; the folder the bots run in."""
    return write_project(tmp_path_factory.mktemp("startup") / "project", upstreams)


def refuses(project: Path, tg: FakeTelegram, **env: str) -> str:
    """Run the bot (the fake Telegram, a free port, the default log level, ``env``) and
    return the one line it refused to start with, after checking it printed nothing else."""
    defaults = {
        "BOT_TOKEN": FAKE_TOKEN,
        "ADMIN_IDS": str(ADMIN),
        "TELEGRAM_API_URL": tg.url,
        "PORT": str(free_port()),
        "LOG_LEVEL": "INFO",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    done = run(project.parent, {**defaults, **env}, "--config", str(project))
    assert done.returncode == 2, done.stderr
    for leak in LEAKS:
        assert leak not in done.stderr, done.stderr
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.fixture
def closed_port() -> int:
    return free_port()  # nothing listens there once free_port let it go


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A socket bound and listening on 127.0.0.1 that never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield sock


def test_telegram_refuses_the_token(project: Path, tg: FakeTelegram) -> None:
    wrong = "123456789:BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"
    line = refuses(project, tg, BOT_TOKEN=wrong)
    assert line == (
        "Telegram refused BOT_TOKEN (401 Unauthorized): check the token from @BotFather"
    )
    assert "BBBBBBBBBB" not in line


def test_telegram_api_url_with_a_wrong_path(project: Path, tg: FakeTelegram) -> None:
    line = refuses(project, tg, TELEGRAM_API_URL=f"{tg.url}/telegram")
    host = tg.url.removeprefix("http://")
    assert line == (
        f"Telegram at {host} answered getMe with an error (Not Found): check TELEGRAM_API_URL"
    )


def test_telegram_at_a_closed_port(project: Path, tg: FakeTelegram, closed_port: int) -> None:
    line = refuses(project, tg, TELEGRAM_API_URL=f"http://127.0.0.1:{closed_port}")
    assert line == (
        f"Telegram unreachable at 127.0.0.1:{closed_port} (connection refused): "
        "check TELEGRAM_API_URL and that the server runs"
    )


def test_telegram_at_an_unknown_host(project: Path, tg: FakeTelegram) -> None:
    # .invalid never resolves (RFC 6761), with or without a network.
    line = refuses(project, tg, TELEGRAM_API_URL="http://bot-api.invalid:8081")
    assert line == (
        "Telegram unreachable at bot-api.invalid:8081 (host not found): "
        "check TELEGRAM_API_URL and that the server runs"
    )


def test_telegram_that_never_answers(
    project: Path, tg: FakeTelegram, listener: socket.socket
) -> None:
    port = listener.getsockname()[1]
    line = refuses(project, tg, TELEGRAM_API_URL=f"http://127.0.0.1:{port}")
    assert line == (
        f"Telegram unreachable at 127.0.0.1:{port} (no answer in 5 s): "
        "check TELEGRAM_API_URL and that the server runs"
    )


def test_port_already_in_use(project: Path, tg: FakeTelegram, listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    line = refuses(project, tg, PORT=str(port))
    assert line == (
        f"port {port} (PORT) is already in use on 127.0.0.1: stop the other process or set "
        "PORT to a free port"
    )


def test_redis_unreachable(project: Path, tg: FakeTelegram, closed_port: int) -> None:
    line = refuses(project, tg, REDIS_URL=f"redis://:s3cret-pass@127.0.0.1:{closed_port}/0")
    assert line == (
        f"Redis unreachable at 127.0.0.1:{closed_port} (connection refused): start Redis or "
        "fix REDIS_URL"
    )


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("redis//s3cret-pass@cache:6379", "not a Redis URL"),
        ("redis://:s3cret-pass@cache:63o9/0", "the port is not a number from 1 to 65535"),
        ("redis://:s3cret-pass@cache:6379/sessions", "the database is not a number"),
    ],
)
def test_redis_url_malformed(project: Path, tg: FakeTelegram, url: str, problem: str) -> None:
    line = refuses(project, tg, REDIS_URL=url)
    assert line == (
        f"environment: REDIS_URL: {problem}; use redis://[:password@]host[:port][/db] "
        "(or rediss://, unix:///path)"
    )
    assert "s3cret" not in line


# -- .env -----------------------------------------------------------------------------------


def test_env_example_as_is_starts_the_bot(
    tmp_path: Path, fresh_tg: FakeTelegram, upstreams: FakeProviders
) -> None:
    """``.env.example`` copied to ``.env`` in the folder the bot starts in, token and
    admins filled in: the empty optional values (``PORT=``, ``REDIS_URL=``, ...) mean "not
    set". Only TELEGRAM_API_URL comes from the environment, to reach the fake."""
    port = free_port()
    config = write_project(tmp_path / "project", upstreams, {"port: 8080 ": f"port: {port} "})
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    for name, value in {"BOT_TOKEN": FAKE_TOKEN, "ADMIN_IDS": str(ADMIN)}.items():
        assert text.count(f"\n{name}=\n") == 1
        text = text.replace(f"\n{name}=\n", f"\n{name}={value}\n")
    (config.parent / ".env").write_text(text, encoding="utf-8")
    env = {
        **clean_environment(),
        "TELEGRAM_API_URL": fresh_tg.url,
        "NO_PROXY": "127.0.0.1,localhost",
        "PYTHONUNBUFFERED": "1",
    }
    bot = BotProcess("dotenv", config, tmp_path / "dotenv.log", env)
    try:
        bot.start(fresh_tg, timeout=20)
    finally:
        assert bot.stop() == 0, bot.log()
    log = bot.log()
    assert f"health server on port {port}" in log
    assert "storage: memory" in log
    assert FAKE_TOKEN.split(":")[1] not in log


def test_env_file_read_from_the_working_directory_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Settings and the process environment both take ``./.env``; empty values are unset."""
    from engine.settings import Settings, load_env_file

    for name in SCRUBBED:
        monkeypatch.delenv(name, raising=False)
    here = tmp_path / "here"
    here.mkdir()
    shutil.copy(ROOT / ".env.example", here / ".env")
    (tmp_path / ".env").write_text("ADMIN_IDS=7\nDATA_DIR=/parent\n")  # not read
    monkeypatch.chdir(here)
    with monkeypatch.context() as env:
        env.setattr(os, "environ", dict(os.environ))  # load_env_file writes to it
        load_env_file()
        assert os.environ["PORT"] == ""
        assert "DATA_DIR" in os.environ and os.environ["DATA_DIR"] == ""
    settings = Settings()
    assert settings.admin_ids == []
    assert settings.telegram_api_url is None
    assert settings.redis_url is None
    assert settings.port is None
    assert settings.data_dir == Path("data")
    assert settings.log_level == "INFO"


def test_start_asks_telegram_what_it_must_once_and_sets_menus_at_once(
    own_launcher: BotLauncher, own_tg: FakeTelegram
) -> None:
    # Every round trip to Telegram delays the first getUpdates by its RTT (tens of ms on
    # the internet): one getMe, kept for polling's own; the menus of all locales together.
    own_tg.slow_down("setMyCommands", 0.4)
    try:
        since = len(own_tg.api_calls)
        process = own_launcher.start()
        calls = own_tg.api_calls[since:]
        first_poll = next(i for i, c in enumerate(calls) if c.method == "getUpdates")
        before = calls[:first_poll]
        assert [c.method for c in before].count("getMe") == 1
        menus = [c for c in before if c.method == "setMyCommands"]
        assert len(menus) == 3  # the default, ru, en
        assert max(c.at for c in menus) - min(c.at for c in menus) < 0.2  # not 0.4 apart
        process.stop()
    finally:
        own_tg.slow_down("setMyCommands", 0)
