"""The quote journal end to end on the shared bot (SQLite in its DATA_DIR): every quote
shown becomes a row; /history lists and reopens them (a typed amount on a reopened card
requotes); /export sends the CSV; /today sums the day; bad arguments get one line."""

from __future__ import annotations

import csv
import io
import re
import sqlite3
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from tests.e2e.fake_telegram import FakeTelegram
from tests.e2e.harness import ADMINS, BotLauncher, BotProcess, Person

MOSCOW = ZoneInfo("Europe/Moscow")


def journal_rows(launcher: BotLauncher, admin: int) -> list[sqlite3.Row]:
    path = launcher.config.parent / "data" / "journal.sqlite3"
    with sqlite3.connect(path) as db:
        db.row_factory = sqlite3.Row
        return list(
            db.execute("SELECT * FROM journal_quotes WHERE admin_id = ? ORDER BY id", (admin,))
        )


async def rows_of(
    tg: FakeTelegram, launcher: BotLauncher, admin: int, count: int
) -> list[sqlite3.Row]:
    return await tg.wait_for(
        lambda: rows if len(rows := journal_rows(launcher, admin)) >= count else None,
        10,
        f"{count} journal rows of admin {admin}",
    )


async def test_every_quote_is_a_row_and_history_reopens_it(
    tg: FakeTelegram, bot: BotProcess, launcher: BotLauncher
) -> None:
    admin = Person(tg, ADMINS[24])
    card = await admin.quote("RUB", "USDT", margin="2", amount="1000")
    assert "Клиент получает: 11,49 USDT" in card.norm
    admin.send("/q 100 usdt thb 1.5")
    await admin.sees("Клиент получает: 3 128,90 THB")
    first, second = await rows_of(tg, launcher, admin.user_id, 2)
    assert (first["give"], first["get"], first["mode"]) == ("RUB", "USDT", "give")
    assert (Decimal(first["amount_given"]), Decimal(first["amount_received"])) == (
        Decimal("1000.00"),
        Decimal("11.49"),
    )
    assert (first["base_rate"], first["final_rate"], first["margin"]) == ("85.30", "87.01", "2")
    assert first["admin_username"] == f"tester{admin.user_id}"
    assert first["chat_id"] == admin.user_id and first["locale"] == "ru"
    assert (second["give"], second["get"], second["amount_received"]) == ("USDT", "THB", "3128.90")
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{6}", first["quote_no"])

    admin.send("/history")
    history = await admin.sees("Ваши последние расчёты")
    lines = [line for line in history.norm.splitlines() if "→" in line]
    assert len(lines) == 2
    assert lines[0].startswith(second["quote_no"]) and "3 128,90 THB" in lines[0]  # newest first
    assert lines[1].startswith(first["quote_no"]) and "11,49 USDT" in lines[1]
    assert len(history.button_texts) == 2
    assert history.button_texts[1].startswith(first["quote_no"])

    admin.click(history, re.escape(first["quote_no"]))
    reopened = await admin.sees("Клиент получает: 11,49 USDT")
    assert "Курс для клиента: 1 USDT = 87,01 RUB" in reopened.norm
    admin.send("2000")  # typed on the reopened card: the same direction and margin
    requote = await admin.sees("Клиент получает: 22,98 USDT")
    assert "Клиент отдаёт: 2 000,00 RUB" in requote.norm
    await rows_of(tg, launcher, admin.user_id, 3)
    await admin.all_clicks_answered()
    assert admin.refusals() == []


async def test_history_all_shows_every_admin(
    tg: FakeTelegram, bot: BotProcess, launcher: BotLauncher
) -> None:
    anna, boris = Person(tg, ADMINS[25]), Person(tg, ADMINS[26], language="en")
    anna.send("/q 1000 rub usdt 2")
    await anna.sees("Клиент получает")
    boris.send("/history")
    assert "You have no quotes in the journal yet" in (await boris.sees("journal")).norm
    boris.send("/history all")
    everyone = await boris.sees("Everyone's last quotes")
    assert f"@tester{anna.user_id}" in everyone.norm
    boris.send("/history yesterday")
    assert (await boris.sees("is not something /history takes")).norm == (
        "“yesterday” is not something /history takes: /history shows your last quotes, "
        "/history all everyone's."
    )
    assert boris.refusals() == []


async def test_export_sends_todays_quotes_as_csv(
    tg: FakeTelegram, bot: BotProcess, launcher: BotLauncher
) -> None:
    admin = Person(tg, ADMINS[27])
    admin.send("/q 1000 rub usdt 2")
    await admin.sees("Клиент получает")
    admin.send("/q 1 000 000 руб в usdt 1,5")
    await admin.sees("Клиент получает")
    [first, second] = await rows_of(tg, launcher, admin.user_id, 2)
    admin.send("/export")
    caption = await admin.sees("Расчёты за")
    today = datetime.now(UTC).astimezone(MOSCOW).date().isoformat()
    [sent] = tg.documents(admin.user_id)
    assert sent.document is not None and sent.document.filename == f"quotes_{today}.csv"
    assert sent.document.data.startswith(b"\xef\xbb\xbf")
    table = list(
        csv.reader(io.StringIO(sent.document.data.decode("utf-8-sig"), newline=""), delimiter=";")
    )
    assert table[0][:3] == ["Номер", "Время (Europe/Moscow)", "ID админа"]
    mine = {row[0]: row for row in table[1:] if row[2] == str(admin.user_id)}
    assert mine[first["quote_no"]][8:12] == ["1\xa0000,00", "11,49", "85,30", "87,01"]
    assert mine[second["quote_no"]][8] == "1\xa0000\xa0000,00"  # as on the card
    assert caption.norm.startswith(f"Расчёты за {today} (Europe/Moscow): ")
    assert admin.refusals() == []


async def test_export_arguments_that_do_not_work_get_one_line(
    tg: FakeTelegram, bot: BotProcess
) -> None:
    admin = Person(tg, ADMINS[28])
    for typed, answer in [
        ("/export 2026-13-01", "«2026-13-01» — не дата."),
        (
            "/export 2026-12-07 2026-12-01",
            "Период кончается раньше, чем начинается: 2026-12-07 … 2026-12-01.",
        ),
        ("/export 2020-01-01 2026-01-01", "Не больше 366 дней за раз (запрошено 2193)."),
        ("/export 2026-01-01 2026-01-02 2026-01-03", "Не больше двух дат"),
        ("/export 2001-01-01", "За 2001-01-01 расчётов нет (Europe/Moscow)."),
    ]:
        admin.send(typed)
        reply = await admin.sees(answer)
        assert len(reply.norm.splitlines()) == 1
    assert tg.documents(admin.user_id) == []
    assert admin.refusals() == []


async def test_today_sums_the_day_per_direction(
    tg: FakeTelegram, bot: BotProcess, launcher: BotLauncher
) -> None:
    admin = Person(tg, ADMINS[29], language="en")
    admin.send("/q 1000 rub usdt 2")
    await admin.sees("Client gets")
    await rows_of(tg, launcher, admin.user_id, 1)
    admin.send("/today")
    totals = await admin.sees("Totals for")
    assert "Quotes: " in totals.norm and "(Europe/Moscow)" in totals.norm
    assert re.search(
        r"RUB → 💵 USDT: \d+ — clients give [\d,]+\.\d\d RUB, get [\d,.]+ USDT", totals.norm
    ), totals.norm
    assert admin.refusals() == []


def test_the_bot_logged_no_journal_trouble(bot: BotProcess) -> None:
    log = bot.log()
    assert "journal: sqlite at " in log and str(Path("data") / "journal.sqlite3") in log
    # The shared bot's log has other tests' injected failures; none of them is the journal's.
    troubles = [
        line
        for line in log.splitlines()
        if "engine.journal" in line and (" WARNING " in line or " ERROR " in line)
    ]
    assert troubles == []
