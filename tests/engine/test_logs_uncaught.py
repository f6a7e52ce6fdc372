"""Tracebacks nobody logs still pass the redacting formatter: an uncaught exception, a
thread's, and asyncio's "Task exception was never retrieved"."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from engine.logs import secrets_in_env

pytestmark = pytest.mark.slow  # a Python subprocess each

SECRET = "123456789:AAEsecretsecretsecretsecretsecret"


def run(code: str) -> subprocess.CompletedProcess[str]:
    prelude = f"from engine.logs import setup_logging\nsetup_logging('INFO', [{SECRET!r}])\n"
    return subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_an_uncaught_exception_is_logged_redacted() -> None:
    done = run(f"raise RuntimeError('https://api.telegram.org/bot{SECRET}/getMe failed')")
    assert done.returncode == 1
    assert SECRET not in done.stderr
    assert "CRITICAL engine: uncaught exception" in done.stderr
    assert "RuntimeError: https://api.telegram.org/bot***/getMe failed" in done.stderr


def test_a_thread_and_a_task_nobody_awaited_are_logged_redacted() -> None:
    done = run(
        f"""
        import asyncio, gc, threading

        def boom():
            raise ValueError({SECRET!r})

        thread = threading.Thread(target=boom, name="worker")
        thread.start()
        thread.join()

        async def fail():
            raise ValueError({SECRET!r})

        async def main():
            asyncio.get_running_loop().create_task(fail())
            await asyncio.sleep(0.05)

        asyncio.run(main())
        gc.collect()
        """
    )
    assert SECRET not in done.stderr
    assert "uncaught exception in thread worker" in done.stderr
    assert "Task exception was never retrieved" in done.stderr
    assert done.stderr.count("ValueError: ***") == 2


def test_secrets_named_by_the_environment() -> None:
    env = {
        "BOT_TOKEN": SECRET,
        "APILAYER_API_KEY": "key-123456",
        "WEBHOOK_SECRET": "hook-secret",
        "REDIS_URL": "redis://:pw@host:6379/0",
        "DB_PASSWORD": "hunter22",
        "HOME": "/home/bot",
        "KEYBOARD": "us",
        "EMPTY_TOKEN": "",
    }
    assert sorted(secrets_in_env(env)) == sorted(
        [SECRET, "key-123456", "hook-secret", "redis://:pw@host:6379/0", "hunter22"]
    )
