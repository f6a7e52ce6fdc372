"""What Telegram rejects, checked before it gets the chance (used by ``crypto-helper check``).

* message text: 1..4096 characters after entity parsing (counted in UTF-16 code units, as
  Telegram counts them);
* HTML parse mode: only Telegram's tags, balanced; ``&`` ``<`` ``>`` escaped; named entities
  limited to ``&lt; &gt; &amp; &quot;``;
* callback_data: at most 64 bytes, including the ``<intent id>\\x1d`` prefix aiogram-dialog
  puts in front (:data:`CALLBACK_PREFIX_BYTES`).

Written here because no maintained library validates Telegram's HTML subset; the stdlib
:class:`html.parser.HTMLParser` does the tokenising.
"""

from __future__ import annotations

from html.parser import HTMLParser

MAX_TEXT = 4096
MAX_CALLBACK_DATA = 64
# aiogram-dialog intent ids are base62 of at most 99*10**8 + 10**8 → 6 characters, then \x1d.
INTENT_ID_MAX_LEN = 6
CALLBACK_PREFIX_BYTES = INTENT_ID_MAX_LEN + 1

ALLOWED_TAGS: dict[str, frozenset[str]] = {
    "b": frozenset(),
    "strong": frozenset(),
    "i": frozenset(),
    "em": frozenset(),
    "u": frozenset(),
    "ins": frozenset(),
    "s": frozenset(),
    "strike": frozenset(),
    "del": frozenset(),
    "tg-spoiler": frozenset(),
    "span": frozenset({"class"}),
    "a": frozenset({"href"}),
    "code": frozenset({"class"}),
    "pre": frozenset(),
    "blockquote": frozenset({"expandable"}),
    "tg-emoji": frozenset({"emoji-id"}),
}
NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


class _TelegramHTML(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.errors: list[str] = []
        self.stack: list[str] = []
        self.visible: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self.errors.append(f"tag <{tag}> is not supported by Telegram")
            return
        for name, _ in attrs:
            if name not in ALLOWED_TAGS[tag]:
                self.errors.append(f"attribute {name!r} is not allowed on <{tag}>")
        self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.errors.append(f"self-closing <{tag}/> is not supported by Telegram")

    def handle_endtag(self, tag: str) -> None:
        if tag not in ALLOWED_TAGS:
            return  # reported at its start tag
        if not self.stack or self.stack[-1] != tag:
            expected = f"</{self.stack[-1]}>" if self.stack else "no closing tag"
            self.errors.append(f"unexpected </{tag}>; expected {expected}")
            if tag in self.stack:
                while self.stack and self.stack.pop() != tag:
                    pass
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        for char in "<>&":
            if char in data:
                self.errors.append(f"unescaped {char!r} in text (write it as an entity)")
        self.visible.append(data)

    def handle_entityref(self, name: str) -> None:
        if name not in NAMED_ENTITIES:
            self.errors.append(f"entity &{name}; is not supported (use &lt; &gt; &amp; &quot;)")
        self.visible.append(NAMED_ENTITIES.get(name, "?"))

    def handle_charref(self, name: str) -> None:
        try:
            code = int(name[1:], 16) if name[:1] in "xX" else int(name)
            self.visible.append(chr(code))
        except (ValueError, OverflowError):
            self.errors.append(f"invalid character reference &#{name};")

    def handle_comment(self, data: str) -> None:
        self.errors.append("HTML comments are not supported by Telegram")

    def unknown_decl(self, data: str) -> None:  # pragma: no cover - <![CDATA[...
        self.errors.append("declarations are not supported by Telegram")


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def check_html(text: str) -> list[str]:
    """Problems Telegram would report for ``text`` in HTML parse mode (empty when fine)."""
    parser = _TelegramHTML()
    parser.feed(text)
    parser.close()
    errors = list(parser.errors)
    if parser.stack:
        errors.append("unclosed " + ", ".join(f"<{t}>" for t in parser.stack))
    visible = "".join(parser.visible)
    length = utf16_len(visible)
    if not visible.strip():
        errors.append("message text is empty")
    elif length > MAX_TEXT:
        errors.append(f"visible text is {length} characters; Telegram allows {MAX_TEXT}")
    return errors


def callback_data_size(data: str) -> int:
    """Bytes Telegram receives for a button's data, with the aiogram-dialog prefix."""
    return CALLBACK_PREFIX_BYTES + len(data.encode("utf-8"))
