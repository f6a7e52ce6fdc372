"""``crypto-helper check`` and the fake Bot API agree on every text of a corpus.

Both use :mod:`engine.telegram`; this test checks what wraps it on each side: the fake's
"message text is empty" / "message is too long" / "can't parse entities: …" answers over
HTTP against :func:`engine.telegram.check_html`. A text ``check`` passes is one the fake
(and so Telegram) accepts, and the other way round.
"""

from __future__ import annotations

from collections.abc import Iterator

import aiohttp
import pytest

from engine.telegram import MAX_TEXT, TelegramTextError, check_html, parse_html
from tests.e2e.fake_telegram import TOKEN, FakeTelegram

USER = 502

CORPUS = [
    "plain",
    "2 > 1",
    "AT&T rocks",
    "&nbsp;x",
    "&#0; &#1114111; &#X41;",
    "a & b &amp; c",
    '<b class="x">b</b>',
    "<B>x</B>",
    "<b>x</>",
    "<a href=t.me>l</a>",
    '<a href="https://x">l</a>',
    '<span class="tg-spoiler">s</span>',
    "<tg-spoiler>s</tg-spoiler>",
    "<blockquote expandable>q</blockquote>",
    '<pre><code class="language-py">x</code></pre>',
    '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>',
    "<tg-emoji></tg-emoji>x",
    '<tg-time unix="1647531900" format="wDT">22:45</tg-time>',
    "  <b>x</b>\n\n",
    "a\r\nb",
    # refused
    "<div>x</div>",
    "1 < 2",
    "x <b",
    "<br/>",
    "<!-- c -->x",
    "<span>x</span>",
    "<a href=https://x>l</a>",
    "<tg-emoji>😀</tg-emoji>",
    '<tg-emoji emoji-id="0">😀</tg-emoji>',
    "&#55357;",
    "&#55357;&#56832;",
    "<b />",
    '<a href="x>y',
    "x</b>",
    "<b>x</b y>",
    "<b><i>x</b></i>",
    "<b>a <i>x",
    '<tg-time unix="soon">x</tg-time>',
    "",
    "   ",
    "<b> </b>",
    "\u200b",
    "x" * MAX_TEXT,
    "💵" * MAX_TEXT,
    "x" * (MAX_TEXT + 1),
    "&lt;" * (MAX_TEXT + 1),
]


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeTelegram]:
    server = FakeTelegram().start()
    server.user_sends(USER, "hi")
    yield server
    server.stop()


def expected_answer(text: str) -> str | None:
    """What the fake must say, derived from check_html's verdict alone."""
    problems = check_html(text)
    if not problems:
        return None
    message = problems[0].message
    if message.startswith("the message is empty"):
        return "Bad Request: message text is empty"
    if f"after formatting; Telegram allows at most {MAX_TEXT}" in message:
        return "Bad Request: message is too long"
    with pytest.raises(TelegramTextError) as caught:
        parse_html(text)
    return f"Bad Request: can't parse entities: {caught.value}"


async def test_check_and_fake_agree(fake: FakeTelegram) -> None:
    disagreements = []
    async with aiohttp.ClientSession() as http:
        for text in CORPUS:
            form = {"chat_id": str(USER), "text": text, "parse_mode": "HTML"}
            async with http.post(f"{fake.url}/bot{TOKEN}/sendMessage", data=form) as resp:
                body = await resp.json()
            answer = None if body["ok"] else body["description"]
            if answer != expected_answer(text):
                disagreements.append((text[:40], answer, expected_answer(text)))
    assert disagreements == []
