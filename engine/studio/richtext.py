"""Telegram HTML as a Telegram client draws it: safe HTML for the gallery, text for a terminal.

A message is read exactly as Telegram reads it (:func:`engine.telegram.parse_html`, then
:func:`~engine.telegram.fix_formatted_text`: TDLib's rules, the same code ``check`` uses),
which gives the visible text and its entities — what a client actually draws. The entities
(properly nested: they come from nested tags) become a tree of :class:`Node`, and the tree
is drawn:

* :func:`to_html`: every character of text is escaped, and each entity becomes one element
  from a fixed table (``<b>``, ``<i>``, ``<u>``, ``<s>``, ``<code>``, ``<pre>``,
  ``<blockquote>``, ``<span class="tg-spoiler">``…); a link keeps its ``href`` only with
  an ``http``, ``https`` or ``tg`` scheme (``example.com`` is read as ``http://``, as
  Telegram does), anything else (``javascript:``…) is drawn as plain text;
* :func:`to_terminal`: ANSI styles (bold, italic, underline, strike, code in cyan, a
  spoiler in reverse video, links underlined with their address after them) when
  ``ansi`` is true, else plain text; code blocks and quotes stand on lines of their own,
  a quote's lines start with ``│``.

As in Telegram, bot commands (``/help``; TDLib's rule: not next to a word character,
``/``, ``<`` or ``>``) and bare ``http(s)://`` addresses in the text are drawn as links,
outside code and links.

Why hand-written: HTML sanitizers (bleach, nh3) make arbitrary HTML safe, but they read the
source as a browser does, not as Telegram does (``AT&T``, ``2 < 3``, ``<a href=x>``,
``<span class="tg-spoiler">``), so the picture would differ from the chat. Starting from
Telegram's own entities makes the output right by construction: text is escaped, tags
come from a fixed table, attributes from checked values.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from engine.telegram import (
    Entity,
    FormattedText,
    TelegramTextError,
    check_html,
    fix_formatted_text,
    parse_html,
)

LINK_SCHEMES = frozenset({"http", "https", "tg"})
"""Schemes a drawn link may have; any other link is drawn as its text."""
# Auto-detected entities, innermost (Telegram's clients find them in the visible text).
_AUTO_PRIORITY = 100
# TDLib's match_bot_commands: not after or before a word character, "/", "<" or ">".
_COMMAND = re.compile(r"(?<![\w/<>])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/<>])")
_URL = re.compile(r"(?<![\w@])https?://[^\s<>\"']+", re.IGNORECASE)
_URL_TRAILING = ".,;:!?)]}'\""
# Entities inside which nothing is auto-detected.
_OPAQUE = frozenset({"code", "pre", "text_link", "url", "bot_command"})
_PRIORITY = {"blockquote": 0, "expandable_blockquote": 0, "pre": 11, "code": 20, "text_link": 49}
_LANGUAGE = re.compile(r"[A-Za-z0-9_+#.-]{1,32}")
_CONTROL = re.compile(r"[\x00-\x20\x7f-\x9f]")
# CSI sequences (styles, a terminal's modes such as readline's bracketed paste) and OSC.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")


@dataclass(frozen=True)
class Node:
    """One entity and what it holds (text and nested entities), or the whole message.

    Attributes:
        kind: the Bot API entity type (``bold``, ``text_link``…); ``""`` for the root.
        children: text pieces and nested nodes, in order.
        url: for ``text_link`` and ``url``: the address (not yet checked).
        language: for ``pre``: the declared language, if any.
    """

    kind: str
    children: tuple[Node | str, ...] = ()
    url: str = ""
    language: str = ""

    @property
    def text(self) -> str:
        """The visible text under this node."""
        return "".join(c if isinstance(c, str) else c.text for c in self.children)


@dataclass(frozen=True)
class Message:
    """A text as Telegram shows it, or why Telegram refuses it.

    Attributes:
        root: the tree to draw; for a refused text, the source as plain text.
        problem: Telegram's refusal in our words (``check``'s message), else ``None``.
    """

    root: Node
    problem: str | None = None


def read_message(source: str) -> Message:
    """``source`` in Telegram's HTML parse mode → the tree a client draws.

    A text Telegram refuses (bad HTML, empty, over 4096 characters) is never raised: it
    comes back with :attr:`Message.problem` set and, when it cannot be parsed, its source
    shown as plain text.
    """
    problems = check_html(source)
    problem = problems[0].message if problems else None
    try:
        formatted = fix_formatted_text(parse_html(source))
    except TelegramTextError:
        return Message(Node("", (source,)), problem)
    return Message(build_tree(formatted), problem)


def build_tree(formatted: FormattedText) -> Node:
    """The entities of ``formatted`` (UTF-16 offsets) as a tree over its text."""
    text = formatted.text
    index = _utf16_index(text)
    spans: list[tuple[int, int, Entity]] = []
    for entity in formatted.entities:
        start = index.get(entity.offset)
        end = index.get(entity.offset + entity.length)
        if start is not None and end is not None and end > start:
            spans.append((start, end, entity))
    spans += _auto_entities(text, spans)
    spans.sort(key=lambda s: (s[0], -(s[1] - s[0]), _priority(s[2].type)))
    return _nest(text, spans, 0, len(text), Node(""))


def _priority(kind: str) -> int:
    if kind in ("url", "bot_command"):
        return _AUTO_PRIORITY
    return _PRIORITY.get(kind, 50)


def _utf16_index(text: str) -> dict[int, int]:
    """UTF-16 offset → index in ``text``, at every character boundary."""
    index: dict[int, int] = {}
    offset = 0
    for i, char in enumerate(text):
        index[offset] = i
        offset += 2 if ord(char) > 0xFFFF else 1
    index[offset] = len(text)
    return index


def _auto_entities(
    text: str, spans: Sequence[tuple[int, int, Entity]]
) -> list[tuple[int, int, Entity]]:
    """Bot commands and bare addresses that lie wholly inside or wholly outside each entity,
    and inside no code or link."""
    candidates = [(m.start(), m.end(), "bot_command") for m in _COMMAND.finditer(text)]
    for match in _URL.finditer(text):
        end = match.end()
        while end > match.start() and text[end - 1] in _URL_TRAILING:
            end -= 1
        candidates.append((match.start(), end, "url"))
    found: list[tuple[int, int, Entity]] = []
    for start, end, kind in sorted(candidates):
        if end - start > 1 and _fits(start, end, [*spans, *found]):
            extra: tuple[tuple[str, str | int], ...] = (
                (("url", text[start:end]),) if kind == "url" else ()
            )
            found.append((start, end, Entity(kind, 0, 0, extra)))
    return found


def _fits(start: int, end: int, spans: Iterable[tuple[int, int, Entity]]) -> bool:
    """``[start, end)`` crosses no span's edge and lies in no code or link."""
    for s_start, s_end, entity in spans:
        disjoint = end <= s_start or s_end <= start
        inside = s_start <= start and end <= s_end
        if not disjoint and (not inside or entity.type in _OPAQUE):
            return False
    return True


def _nest(
    text: str, spans: list[tuple[int, int, Entity]], start: int, end: int, node: Node
) -> Node:
    """``node`` with the text ``text[start:end]`` and the ``spans`` (sorted) inside it."""
    children: list[Node | str] = []
    at = start
    i = 0
    while i < len(spans):
        s_start, s_end, entity = spans[i]
        s_end = min(s_end, end)  # a malformed overlap is clipped to its parent
        inner = []
        j = i + 1
        while j < len(spans) and spans[j][0] < s_end:
            inner.append(spans[j])
            j += 1
        if s_start > at:
            children.append(text[at:s_start])
        extra = dict(entity.extra)
        child = Node(
            entity.type,
            url=str(extra.get("url", "")),
            language=str(extra.get("language", "")),
        )
        children.append(_nest(text, inner, s_start, s_end, child))
        at = max(at, s_end)
        i = j
    if at < end:
        children.append(text[at:end])
    return Node(node.kind, tuple(children), node.url, node.language)


def safe_url(url: str) -> str | None:
    """``url`` when a drawn link may point there (``http``, ``https``, ``tg``), else None.

    An address without a scheme (``example.com``) gets ``http://``, as Telegram reads it;
    one with spaces or control characters is refused (browsers would strip them and could
    read another scheme).
    """
    if not url or _CONTROL.search(url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if not scheme:
        if url.startswith("/") and not url.startswith("//"):
            return None  # a path has no host: nothing to open
        return safe_url(f"http:{url}" if url.startswith("//") else f"http://{url}")
    if scheme not in LINK_SCHEMES:
        return None
    if scheme in ("http", "https") and not parts.netloc:
        return None
    return url


# --- HTML ---------------------------------------------------------------------------------

_HTML_TAGS: dict[str, tuple[str, str]] = {
    "bold": ("<b>", "</b>"),
    "italic": ("<i>", "</i>"),
    "underline": ("<u>", "</u>"),
    "strikethrough": ("<s>", "</s>"),
    "code": ('<code class="tg-code">', "</code>"),
    "spoiler": ('<span class="tg-spoiler" tabindex="0" title="spoiler">', "</span>"),
    "blockquote": ('<blockquote class="tg-quote">', "</blockquote>"),
    "expandable_blockquote": (
        '<blockquote class="tg-quote tg-expandable" tabindex="0">',
        "</blockquote>",
    ),
    "bot_command": ('<span class="tg-command">', "</span>"),
    "custom_emoji": ('<span class="tg-emoji">', "</span>"),
    "date_time": ('<span class="tg-time">', "</span>"),
}


def to_html(source: str) -> str:
    """Telegram HTML → HTML safe to put in a page (see the module docstring)."""
    return tree_html(read_message(source).root)


def tree_html(node: Node) -> str:
    """The tree as safe HTML: text escaped, elements from a fixed table."""
    inner = "".join(
        html.escape(c, quote=False) if isinstance(c, str) else tree_html(c) for c in node.children
    )
    if node.kind in ("text_link", "url"):
        url = safe_url(node.url)
        if url is None:
            return f'<span class="tg-link-refused">{inner}</span>'
        return (
            f'<a class="tg-link" href="{html.escape(url, quote=True)}" '
            f'rel="noopener noreferrer nofollow" target="_blank">{inner}</a>'
        )
    if node.kind == "pre":
        language = node.language if _LANGUAGE.fullmatch(node.language) else ""
        label = f' data-language="{html.escape(language, quote=True)}"' if language else ""
        return f'<pre class="tg-pre"{label}><code>{inner}</code></pre>'
    opening, closing = _HTML_TAGS.get(node.kind, ("", ""))
    return f"{opening}{inner}{closing}"


# --- terminal -----------------------------------------------------------------------------

_SGR: dict[str, str] = {
    "bold": "1",
    "italic": "3",
    "underline": "4",
    "strikethrough": "9",
    "code": "36",
    "pre": "36",
    "spoiler": "7",
    "text_link": "4;34",
    "url": "4;34",
    "bot_command": "34",
}
QUOTE_BAR = "│ "
_BLOCKS = frozenset({"pre", "blockquote", "expandable_blockquote"})


@dataclass
class _Styles:
    ansi: bool
    stack: list[str] = field(default_factory=list)

    def push(self, kind: str) -> str:
        code = _SGR.get(kind)
        if not self.ansi or code is None:
            self.stack.append("")
            return ""
        self.stack.append(code)
        return f"\x1b[{code}m"

    def pop(self) -> str:
        code = self.stack.pop()
        if not self.ansi or not code:
            return ""
        again = ";".join(c for c in self.stack if c)
        return "\x1b[0m" + (f"\x1b[{again}m" if again else "")


def to_terminal(source: str, *, ansi: bool) -> str:
    """Telegram HTML → what a terminal prints (see the module docstring)."""
    return tree_terminal(read_message(source).root, ansi=ansi)


def tree_terminal(node: Node, *, ansi: bool) -> str:
    """The tree as terminal text, with ANSI styles when ``ansi``."""
    return _terminal(node, _Styles(ansi))


def _terminal(node: Node, styles: _Styles) -> str:
    opening = styles.push(node.kind) if node.kind else ""
    body = ""
    after_block = False
    for child in node.children:
        part = child if isinstance(child, str) else _terminal(child, styles)
        block = isinstance(child, Node) and child.kind in _BLOCKS
        # A code block or a quote stands on lines of its own, as a client draws it.
        if (block and body and not body.endswith("\n")) or (
            after_block and part and not part.startswith("\n")
        ):
            body += "\n"
        body += part
        after_block = block
    closing = styles.pop() if node.kind else ""
    if node.kind in ("blockquote", "expandable_blockquote"):
        body = "\n".join(QUOTE_BAR + line for line in body.split("\n"))
    out = f"{opening}{body}{closing}"
    url = safe_url(node.url) if node.kind == "text_link" else None
    if url is not None and url != node.text:
        out += f" <{url}>"
    return out


def strip_ansi(text: str) -> str:
    """``text`` without ANSI escape sequences (for tests and logs)."""
    return _ANSI.sub("", text)
