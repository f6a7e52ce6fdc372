"""What ``crypto-helper run`` loads is what its configuration uses (issue 14).

The shipped configuration (memory storage, the SQLite journal at head, no ``bot.watch``) is
served for real, in a fresh interpreter, against the e2e tests' fake Bot API; once it has
polled, the interpreter lists what it imported of the optional parts: none of them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.e2e.harness import free_port

ROOT = Path(__file__).resolve().parents[2]
OPTIONAL = ("redis", "asyncpg", "sqlalchemy", "alembic", "watchfiles")

SERVE = """
import os, signal, sys, threading, time
from engine.lazy_aiogram import import_aiogram
import_aiogram()
from tests.e2e.fake_telegram import FakeTelegram
from engine import cli

token = "123456:" + "A" * 35
fake = FakeTelegram(token).start()
os.environ.update(BOT_TOKEN=token, TELEGRAM_API_URL=fake.url, ADMIN_IDS="1")

def stop_once_polled() -> None:
    deadline = time.monotonic() + 60
    while not any(c.method == "getUpdates" for c in fake.api_calls):
        assert time.monotonic() < deadline, "the bot never polled"
        time.sleep(0.05)
    time.sleep(0.5)  # a moment of serving
    os.kill(os.getpid(), signal.SIGTERM)

threading.Thread(target=stop_once_polled, daemon=True).start()
code = cli.main(["run", "--offline", "--config", sys.argv[1]])
loaded = sorted({m.split(".")[0] for m in sys.modules} & set(sys.argv[2:]))
print(code, *loaded)
"""


@pytest.mark.slow
def test_the_shipped_configuration_loads_no_optional_part(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env.update(DATA_DIR=str(tmp_path / "data"), PYTHONPATH=str(ROOT), NO_PROXY="127.0.0.1")
    env.update(PORT=str(free_port()))
    # A journal at head, as a deployed bot restarts (a first start migrates with Alembic).
    upgrade = [sys.executable, "-m", "engine", "db", "upgrade"]
    subprocess.run(upgrade, cwd=tmp_path, env=env, check=True, capture_output=True, timeout=60)
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SERVE), str(ROOT / "config.yaml"), *OPTIONAL],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["0"], done.stdout + done.stderr[-3000:]
