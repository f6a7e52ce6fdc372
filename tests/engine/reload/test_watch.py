"""``bot.watch``: saving a file of the set reloads it; other files do not."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from reload_helpers import Bot, edit, running_bot

from engine.reload.reloader import TRIGGER_WATCH
from engine.reload.result import ReloadResult
from engine.reload.watch import Watcher

pytestmark = pytest.mark.slow  # waits for the file watcher to see a save

SOURCE = "Какую валюту отдаёт клиент?"


def _watcher(bot: Bot, seen: list[ReloadResult]) -> Watcher:
    async def reload(trigger: str) -> ReloadResult:
        result = await bot.reloader.reload(trigger)
        seen.append(result)
        return result

    watcher = Watcher(lambda: bot.reloader.files, reload, TRIGGER_WATCH)
    bot.reloader.on_applied(watcher.follow)
    return watcher


async def _until(condition, seconds: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "not in time"
        await asyncio.sleep(0.02)


async def test_saving_a_template_reloads_it(tmp_path: Path) -> None:
    async with running_bot(tmp_path, watch=True) as bot:
        seen: list[ReloadResult] = []
        watcher = _watcher(bot, seen)
        watcher.follow(bot.serving)
        assert watcher.watching
        try:
            await asyncio.sleep(0.3)  # the watch is set up
            (tmp_path / "notes.txt").write_text("not part of the set", encoding="utf-8")
            (tmp_path / "templates/ru/.source.j2.swp").write_text("x", encoding="utf-8")
            saved = time.monotonic()
            edit(bot.file("templates/ru/source.j2"), SOURCE, "Сохранено")
            await _until(lambda: bool(seen))
            print(f"\nwatch: saved → applied in {time.monotonic() - saved:.2f} s")
            assert [r.outcome for r in seen] == ["applied"] and seen[0].trigger == "file change"
            await bot.client.send("/admin_bot")
            assert "Сохранено" in bot.last_text()
            # a broken save is refused; the next good one applies
            edit(bot.file("templates/ru/source.j2"), "Сохранено", "{{ oops")
            await _until(lambda: len(seen) == 2)
            assert seen[1].outcome == "failed" and len(seen[1].problems) == 1
            edit(bot.file("templates/ru/source.j2"), "{{ oops", "Снова")
            await _until(lambda: len(seen) == 3)
            assert seen[2].outcome == "applied"
        finally:
            await watcher.stop()
        assert not watcher.watching


async def test_a_new_template_is_seen_and_watch_off_stops_it(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        seen: list[ReloadResult] = []
        watcher = _watcher(bot, seen)
        watcher.follow(bot.serving)
        assert not watcher.watching  # bot.watch is false as shipped
        edit(bot.file("config.yaml"), "  watch: false ", "  watch: true ")
        assert (await bot.reloader.reload("SIGHUP")).outcome == "applied"
        assert watcher.watching  # the reloaded bot.watch: true
        try:
            await asyncio.sleep(0.3)
            bot.file("templates/en/extra.j2").write_text("<b>extra</b>", encoding="utf-8")
            await _until(lambda: bool(seen))
            assert seen[0].outcome == "applied"
            assert bot.file("templates/en/extra.j2").resolve() in bot.reloader.files.files
            edit(bot.file("config.yaml"), "  watch: true ", "  watch: false ")
            await _until(lambda: len(seen) == 2)
            assert seen[1].outcome == "applied" and not watcher.watching
            await asyncio.sleep(0.3)
            edit(bot.file("templates/ru/source.j2"), SOURCE, "Без наблюдения")
            await asyncio.sleep(1.0)
            assert len(seen) == 2  # no longer watched
        finally:
            await watcher.stop()
