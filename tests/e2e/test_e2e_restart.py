"""A deploy in the middle of dialogs: SIGTERM, then a new process with empty storage.

One test, two processes (each start costs seconds): while the first process is sending one
admin's quote it gets SIGTERM; it must finish that update and exit 0 within 10 s. Another
admin then presses a button of a window the first process drew; the second process must
answer the callback and restart the dialog politely.
"""

from __future__ import annotations

import re

from tests.e2e.fake_telegram import FakeTelegram
from tests.e2e.harness import ADMINS, BotLauncher, BotProcess, Person, assert_no_secrets

ERROR_LINE = re.compile(r"^\S+ \S+ (ERROR|CRITICAL) .*$", re.MULTILINE)


def assert_clean_exit(process: BotProcess) -> None:
    assert not process.killed, f"{process.name} ignored SIGTERM for 10 s and was killed"
    assert process.returncode == 0, f"{process.name} exited with {process.returncode}"
    assert process.stop_seconds is not None and process.stop_seconds < 10


async def test_sigterm_mid_dialog_then_old_buttons_on_the_new_process(
    own_tg: FakeTelegram, own_launcher: BotLauncher
) -> None:
    tg = own_tg
    first = own_launcher.start()
    waiting = Person(tg, ADMINS[0])  # has a window open when the bot restarts
    old_window = await waiting.open_step("target")
    busy = Person(tg, ADMINS[1])  # is getting a quote when SIGTERM comes
    await busy.open_step("amount")

    tg.slow_down("sendMessage", 2.0)  # the result card takes 2 s to send
    try:
        mark = tg.mark()
        busy.send("1000")
        await tg.wait_for(
            lambda: tg.calls("sendMessage", chat_id=busy.user_id, since=mark),
            10,
            "the card being sent",
        )
        first.stop()  # SIGTERM while that update is being handled
    finally:
        tg.slow_down("sendMessage", 0)
    assert_clean_exit(first)
    # The update in progress was finished before the exit: the admin has the quote.
    card = await busy.sees_screen("result", timeout=1)
    assert "Клиент получает: 11,49 USDT" in card.norm

    second = own_launcher.start()
    query = waiting.click(old_window, r"\bUSDT$")  # drawn by the first process
    await waiting.all_clicks_answered(timeout=10)
    fresh = await waiting.sees_screen("source")  # a new dialog window, from the start
    assert tg.callback_answer(query) is not None
    assert second.alive

    # and the new dialog works to the end
    card = await waiting.quote_from(fresh, "RUB", "USDT", margin="2", amount="1000")
    assert "Клиент получает: 11,49 USDT" in card.norm
    await waiting.all_clicks_answered()
    assert waiting.refusals() == [] and busy.refusals() == []
    assert ERROR_LINE.findall(second.log()) == []
    for process in (first, second):
        assert_no_secrets(process.log())
