"""``/export``: quotes as a CSV file that Excel opens right in a Russian locale.

UTF-8 with a byte order mark (Excel otherwise reads it as Windows-1251), ``;`` between
fields (a Russian Excel reads ``,`` as the decimal comma), ``\\r\\n`` line ends, a header
row in the reader's locale (``export_columns`` in strings.yaml). Amounts and rates are
written as on the cards: the reader's locale's separators (ru ``1 000,50``), amounts with
their currency's decimals, rates with the decimals they were shown with. Times are the
desk's (``bot.timezone``), ``2026-12-01 14:05:33``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from zoneinfo import ZoneInfo

from engine.config.models import AppConfig
from engine.journal.entry import JournalEntry
from engine.render import Renderer, format_number
from engine.texts import EXPORT_COLUMNS

COLUMNS = EXPORT_COLUMNS
SECTION = "export_columns"
DELIMITER = ";"


def export_csv(
    entries: Iterable[JournalEntry], config: AppConfig, renderer: Renderer, locale: str
) -> bytes:
    """The CSV file of ``entries``, oldest first as given."""
    zone: ZoneInfo = config.bot.zone
    decimals = {c.code: c.decimals for c in config.currencies}
    words = {
        key: renderer.string(locale, SECTION, key, {})
        for key in ("mode_give", "mode_receive", "yes", "no")
    }
    out = io.StringIO()
    writer = csv.writer(out, delimiter=DELIMITER, lineterminator="\r\n")
    writer.writerow(
        renderer.string(locale, SECTION, c, {"timezone": config.bot.timezone}) for c in COLUMNS
    )
    for e in entries:
        writer.writerow(
            (
                e.quote_no,
                e.created_at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"),
                e.admin_id,
                e.admin_username or "",
                e.chat_id,
                e.give,
                e.get,
                words["mode_receive" if e.mode == "receive" else "mode_give"],
                format_number(e.amount_given, locale, decimals.get(e.give)),
                format_number(e.amount_received, locale, decimals.get(e.get)),
                format_number(e.base_rate, locale),
                format_number(e.final_rate, locale),
                format_number(e.margin, locale),
                " + ".join(e.sources),
                e.rate_age_seconds,
                words["yes" if e.stale else "no"],
                e.locale,
                e.bot_version,
            )
        )
    return out.getvalue().encode("utf-8-sig")
