"""How long from saving an edited template to the bot showing the new text (issue 13 §1).

Starts the real ``crypto-helper run --offline`` against the fake Bot API, twice: once
reloaded by SIGHUP, once with ``bot.watch: true`` (no signal). Each round edits
``templates/ru/source.j2`` with a new word, then (SIGHUP) signals; it times

* *serving*: until ``/health/ready`` names the new set (polled every 10 ms);
* *shown*: until the admin's ``/admin_bot``, sent then, is answered with the new word;

and the bot's RSS before and after the rounds (what a reload leaves behind).

```sh
python -m bench.reload --rounds 10
```
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import statistics
import sys
import tempfile
import time
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path

from bench.e2e import API_KEY, TOKEN, FakeProviders, FakeTelegram, free_port, write_project
from bench.process import Child, child_env, crypto_helper_argv, rss_mb

ADMIN = 1001
SOURCE = "Какую валюту отдаёт клиент?"


def fingerprint(port: int) -> str:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"http://127.0.0.1:{port}/health/ready", timeout=2) as response:
            body = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        body = json.loads(exc.read())
    return str(body["definitions"]["hash"])


async def until(done: Callable[[], Awaitable[bool]], step: float) -> None:
    """Poll ``done`` every ``step`` seconds until it is true (the bot's state is elsewhere:
    nothing here to wait on)."""
    while True:
        if await done():
            return
        await asyncio.sleep(step)


async def rounds(
    tg: FakeTelegram, bot: Child, port: int, template: Path, count: int, *, signal_it: bool
) -> list[tuple[float, float]]:
    times = []
    text = await asyncio.to_thread(template.read_text, encoding="utf-8")
    for n in range(count):
        word = f"Раунд {n} — что клиент приносит?"
        before = await asyncio.to_thread(fingerprint, port)

        async def switched(before: str = before) -> bool:
            return await asyncio.to_thread(fingerprint, port) != before

        saved = time.monotonic()
        await asyncio.to_thread(template.write_text, text.replace(SOURCE, word), "utf-8")
        if signal_it:
            bot.signal(signal.SIGHUP)
        await until(switched, 0.01)
        serving = time.monotonic() - saved
        tg.user_sends(ADMIN, "/admin_bot", "ru")
        await tg.wait_for_screen(ADMIN, word, timeout=30)
        times.append((serving, time.monotonic() - saved))
        await asyncio.sleep(0.3)  # let the previous set retire
    return times


async def measure(folder: Path, count: int, *, watch: bool) -> None:
    tg = FakeTelegram().start()
    providers = FakeProviders().start()
    try:
        edits = {"  watch: false": "  watch: true"} if watch else {}
        config = write_project(folder, providers, edits)
        port = free_port()
        env = child_env(
            BOT_TOKEN=TOKEN,
            TELEGRAM_API_URL=tg.url,
            ADMIN_IDS=str(ADMIN),
            API_LAYER_KEY=API_KEY,
            PORT=str(port),
            LOG_LEVEL="INFO",
        )
        bot = Child(
            "bot", [*crypto_helper_argv(config), "--offline"], env, folder, folder / "bot.log"
        )
        bot.start()
        ready = asyncio.Event()
        mark = tg.mark()

        async def polled() -> bool:
            return bool(tg.calls("getUpdates", since=mark))

        async def watching() -> bool:
            return "(bot.watch)" in bot.log()

        async def ready_when_polled() -> None:
            await until(polled, 0.05)
            ready.set()

        waiter = asyncio.create_task(ready_when_polled())
        await bot.wait_ready(ready, 60)
        await waiter
        if watch:
            await until(watching, 0.05)
        rss_before = rss_mb(bot.pid)
        times = await rounds(
            tg, bot, port, folder / "templates/ru/source.j2", count, signal_it=not watch
        )
        rss_after = rss_mb(bot.pid)
        code = await bot.stop()
        how = "bot.watch" if watch else "SIGHUP"
        for name, values in (("serving", [t[0] for t in times]), ("shown", [t[1] for t in times])):
            print(
                f"{how:9} save → {name:7}: median {statistics.median(values):.2f} s, "
                f"min {min(values):.2f} s, max {max(values):.2f} s ({len(values)} rounds)"
            )
        print(
            f"{how:9} RSS {rss_before:.0f} → {rss_after:.0f} MiB after {count} reloads; "
            f"exit {code}; errors in log: {bot.log().count(' ERROR ')}"
        )
    finally:
        providers.stop()
        tg.stop()


async def main(count: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-reload-") as tmp:
        await measure(Path(tmp) / "sighup", count, watch=False)
        await measure(Path(tmp) / "watch", count, watch=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10, help="edits per mode (default 10)")
    asyncio.run(main(parser.parse_args().rounds))
    sys.exit(0)
