"""Telegram HTML drawn for the gallery (safe HTML) and the terminal (ANSI or plain)."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.studio.richtext import read_message, safe_url, strip_ansi, to_html, to_terminal

LINK = 'class="tg-link" href="{}" rel="noopener noreferrer nofollow" target="_blank"'


def link(url: str, text: str) -> str:
    return f"<a {LINK.format(url)}>{text}</a>"


# --- escaping ---------------------------------------------------------------------------


def test_text_is_escaped_as_telegram_reads_it() -> None:
    # Telegram reads "&lt;" as "<", and a bare "&" or ">" as text; all come out escaped.
    assert to_html("AT&T: 3 &amp; 4 > 1 &lt;b&gt; &quot;q&quot; 'a'") == (
        "AT&amp;T: 3 &amp; 4 &gt; 1 &lt;b&gt; \"q\" 'a'"
    )


def test_a_bare_less_than_is_refused_as_telegram_does() -> None:
    message = read_message("2 < 3")
    assert message.problem == 'a "<" that does not start a tag must be written &lt;'
    assert to_html("2 < 3") == "2 &lt; 3"


def test_decoded_markup_is_text_not_markup() -> None:
    assert to_html("&lt;script&gt;alert(1)&lt;/script&gt;") == (
        "&lt;script&gt;alert(1)&lt;/script&gt;"
    )
    assert to_html("<b>&lt;img src=x onerror=alert(1)&gt;</b>") == (
        "<b>&lt;img src=x onerror=alert(1)&gt;</b>"
    )


def test_a_text_telegram_refuses_is_shown_as_its_source_with_the_reason() -> None:
    message = read_message("<div onclick=x>hi</div>")
    assert message.problem == (
        "<div onclick=x> is not a tag Telegram knows; use <b>, <i>, <u>, <s>, <code>, <pre>, "
        "<a>, <blockquote> or <tg-spoiler>"
    )
    assert to_html("<div onclick=x>hi</div>") == "&lt;div onclick=x&gt;hi&lt;/div&gt;"


def test_an_empty_text_has_a_problem_and_nothing_to_draw() -> None:
    message = read_message("<b> </b>")
    assert message.problem is not None and "empty" in message.problem
    assert to_html("<b> </b>") == "&lt;b&gt; &lt;/b&gt;"


def test_too_long_is_drawn_and_flagged() -> None:
    message = read_message("x" * 4097)
    assert message.problem == (
        "the message is 4097 characters after formatting; Telegram allows at most 4096: "
        "shorten it or split it into several messages"
    )
    assert message.root.text == "x" * 4097


# --- tags and nesting ------------------------------------------------------------------


def test_nesting_is_kept() -> None:
    assert to_html("<b>a <i>b <u>c</u></i> d</b> e") == "<b>a <i>b <u>c</u></i> d</b> e"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("<strong>x</strong>", "<b>x</b>"),
        ("<em>x</em>", "<i>x</i>"),
        ("<ins>x</ins>", "<u>x</u>"),
        ("<del>x</del> <strike>y</strike> <s>z</s>", "<s>x</s> <s>y</s> <s>z</s>"),
        ("<code>x &lt; 1</code>", '<code class="tg-code">x &lt; 1</code>'),
        ("<pre>a\nb</pre>", '<pre class="tg-pre"><code>a\nb</code></pre>'),
        (
            '<pre><code class="language-python">print(1)</code></pre>',
            '<pre class="tg-pre" data-language="python"><code>print(1)</code></pre>',
        ),
        ("<blockquote>q</blockquote>", '<blockquote class="tg-quote">q</blockquote>'),
        (
            "<blockquote expandable>q</blockquote>",
            '<blockquote class="tg-quote tg-expandable" tabindex="0">q</blockquote>',
        ),
        (
            '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>',
            '<span class="tg-emoji">👍</span>',
        ),
        ("<B>x</B>", "<b>x</b>"),
    ],
)
def test_every_tag(source: str, expected: str) -> None:
    assert to_html(source) == expected


@pytest.mark.parametrize(
    "source", ["<tg-spoiler>s</tg-spoiler>", '<span class="tg-spoiler">s</span>']
)
def test_spoiler(source: str) -> None:
    assert to_html(f"a {source} b") == (
        'a <span class="tg-spoiler" tabindex="0" title="spoiler">s</span> b'
    )


def test_a_spoiler_inside_bold_inside_a_quote() -> None:
    assert to_html("<blockquote><b>x <tg-spoiler>y</tg-spoiler></b></blockquote>") == (
        '<blockquote class="tg-quote"><b>x '
        '<span class="tg-spoiler" tabindex="0" title="spoiler">y</span></b></blockquote>'
    )


def test_offsets_after_characters_outside_the_bmp() -> None:
    # Entity offsets are UTF-16 units: an emoji counts 2.
    assert to_html("💵💵 <b>USDT</b> 🇷🇺 <i>RUB</i>") == "💵💵 <b>USDT</b> 🇷🇺 <i>RUB</i>"


def test_spaces_and_newlines_trimmed_as_telegram_stores_the_text() -> None:
    assert to_html("\n\n  <b>x</b>\n\n") == "<b>x</b>"


# --- links ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("href", "url"),
    [
        ("https://rapira.net/x?a=1&amp;b=2", "https://rapira.net/x?a=1&amp;b=2"),
        ("http://example.com", "http://example.com"),
        ("tg://resolve?domain=durov", "tg://resolve?domain=durov"),
        ("TG://user?id=1", "TG://user?id=1"),
        ("example.com/a", "http://example.com/a"),
    ],
)
def test_links_to_http_https_and_tg(href: str, url: str) -> None:
    assert to_html(f'<a href="{href}">go</a>') == link(url, "go")


@pytest.mark.parametrize(
    "href",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "java\tscript:alert(1)",
        " javascript:alert(1)",
        "&#106;avascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:x",
        "file:///etc/passwd",
        "mailto:a@b.c",
        "https://",
        "/relative/path",
    ],
)
def test_other_links_are_text(href: str) -> None:
    assert to_html(f'<a href="{href}">go</a>') == '<span class="tg-link-refused">go</span>'


def test_a_link_cannot_break_out_of_its_attribute() -> None:
    html = to_html('<a href="https://x.com/&quot;onmouseover=&quot;alert(1)">x</a>')
    assert html == link("https://x.com/&quot;onmouseover=&quot;alert(1)", "x")


def test_a_link_without_href_links_its_text() -> None:
    assert to_html("<a>https://rapira.net</a>") == link("https://rapira.net", "https://rapira.net")


def test_safe_url() -> None:
    assert safe_url("//example.com/x") == "http://example.com/x"
    assert safe_url("https://[::1") is None  # urlsplit refuses it
    assert safe_url("") is None


# --- what a client finds in the text --------------------------------------------------


def test_commands_and_addresses_are_links() -> None:
    assert to_html("Send /admin_bot or /q@local_bot, see https://rapira.net/.") == (
        'Send <span class="tg-command">/admin_bot</span> or '
        '<span class="tg-command">/q@local_bot</span>, see '
        + link("https://rapira.net/", "https://rapira.net/")
        + "."
    )


def test_nothing_is_found_inside_code_links_or_paths() -> None:
    assert to_html("<code>/help</code> a/b x/y &lt;/b&gt;") == (
        '<code class="tg-code">/help</code> a/b x/y &lt;/b&gt;'
    )
    assert to_html('<a href="https://a.b">/help</a>') == link("https://a.b", "/help")


def test_a_command_inside_bold_nests() -> None:
    assert to_html("<b>/help now</b>") == '<b><span class="tg-command">/help</span> now</b>'


def test_a_command_across_an_entity_edge_stays_text() -> None:
    assert to_html("<b>/he</b>lp") == "<b>/he</b>lp"


# --- terminal ---------------------------------------------------------------------------


def test_terminal_plain() -> None:
    source = (
        "<b>Quote</b> <i>i</i> <a href='https://a.b'>site</a> <a href='javascript:x'>js</a>\n"
        "<blockquote>q1\nq2</blockquote>x<pre>code</pre>y"
    )
    assert to_terminal(source, ansi=False) == (
        "Quote i site <https://a.b> js\n│ q1\n│ q2\nx\ncode\ny"
    )


def test_terminal_ansi() -> None:
    text = to_terminal(
        "<b>bold <i>both</i></b> <s>s</s> <tg-spoiler>p</tg-spoiler> /help", ansi=True
    )
    assert text == (
        "\x1b[1mbold \x1b[3mboth\x1b[0m\x1b[1m\x1b[0m \x1b[9ms\x1b[0m \x1b[7mp\x1b[0m "
        "\x1b[34m/help\x1b[0m"
    )
    assert strip_ansi(text) == "bold both s p /help"


def test_terminal_of_a_refused_text_is_its_source() -> None:
    assert to_terminal("<div>", ansi=True) == "<div>"


def test_strip_ansi_removes_terminal_modes_and_links() -> None:
    assert strip_ansi("\x1b[?2004ha\x1b[1;34mb\x1b[0m\x1b]8;;https://x\x1b\\c") == "abc"


# --- whatever the text, only our elements -------------------------------------------------

ALLOWED = {
    "b": set(),
    "i": set(),
    "u": set(),
    "s": set(),
    "code": {"class"},
    "pre": {"class", "data-language"},
    "blockquote": {"class", "tabindex"},
    "span": {"class", "tabindex", "title"},
    "a": {"class", "href", "rel", "target"},
}


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


PIECES = st.sampled_from(
    [
        "<b>",
        "</b>",
        "<i>",
        "</i>",
        "<u>",
        "</u>",
        "<s>",
        "</s>",
        "<code>",
        "</code>",
        "<pre>",
        "</pre>",
        "<blockquote>",
        "</blockquote>",
        "<tg-spoiler>",
        "</tg-spoiler>",
        '<span class="tg-spoiler">',
        "</span>",
        '<a href="javascript:alert(1)">',
        '<a href="https://a.b/?q=&quot;x">',
        "<a href=tg://x>",
        "</a>",
        "<script>",
        "<img src=x>",
        "&lt;",
        "&gt;",
        "&amp;",
        "&quot;",
        "&#60;",
        "&",
        "<",
        ">",
        '"',
        "'",
        "/help",
        " ",
        "\n",
        "x",
        "💵",
        "https://a.b/c",
        "onerror=alert(1)",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(PIECES, max_size=24))
def test_any_text_gives_only_allowed_elements(pieces: list[str]) -> None:
    source = "".join(pieces)
    parser = _Elements()
    parser.feed(to_html(source))
    parser.close()
    for tag, attrs in parser.found:
        assert tag in ALLOWED, (source, tag)
        assert set(attrs) <= ALLOWED[tag], (source, tag, attrs)
        if tag == "a":
            assert str(attrs["href"]).split(":", 1)[0].lower() in {"http", "https", "tg"}
    message = read_message(source)
    if message.problem is None:  # what a reader sees is exactly Telegram's visible text
        assert "".join(parser.text) == message.root.text
