"""YAML with a source map: every value's line and column, for error messages.

Written here because no maintained library maps a pydantic error location back to a YAML
line: PyYAML's node tree has the marks, so we walk it once and keep a ``path -> (line, col)``
table beside the data. Also here, because a config editor expects them:

* numbers with a fraction load as :class:`~decimal.Decimal`, never float;
* a key repeated in one mapping is an error (PyYAML silently keeps the last one);
* a YAML syntax error becomes a :class:`~engine.errors.Problem` with file:line:col.

A file is parsed by libyaml (PyYAML's C parser, a tenth of the time: about 20 ms of every
start and reload for the shipped files) when PyYAML has it; the nodes, marks and data are
the pure-Python parser's (``tests/engine/config/test_source.py`` compares them). A file it
rejects is parsed again by the pure-Python parser, whose messages the hints below read.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from engine.errors import ConfigError, Problem

Loc = tuple[str | int, ...]


class _DecimalLoader(yaml.SafeLoader):
    """SafeLoader whose floats are Decimals (``2.5`` stays exactly 2.5)."""


def _construct_decimal(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    text = str(loader.construct_scalar(node)).replace("_", "")
    try:
        return Decimal(text)
    except InvalidOperation:
        # .inf / .nan spellings: keep YAML's meaning, validators reject them.
        return yaml.SafeLoader.construct_yaml_float(loader, node)


_DecimalLoader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)
_LOADERS: tuple[type[yaml.SafeLoader], ...] = (_DecimalLoader,)
if getattr(yaml, "__with_libyaml__", False):

    class _FastDecimalLoader(yaml.CSafeLoader):
        """:class:`_DecimalLoader` on libyaml."""

    _FastDecimalLoader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)
    _LOADERS = (_FastDecimalLoader, _DecimalLoader)  # type: ignore[assignment]


# PyYAML's wording, said the way a person editing the file understands it.
_YAML_HINTS = (
    ("cannot start any token", "tabs cannot indent YAML; use spaces"),
    ("expected <block end>", "this line's indentation does not match the lines above"),
    ("did not find expected key", "this line's indentation does not match the lines above"),
    (
        "mapping values are not allowed",
        "a ':' inside a value: put the value in quotes, or check the indentation",
    ),
    ("could not find expected ':'", "expected 'key: value' here: is the ':' missing?"),
    ("found undefined alias", "'*' starts a YAML alias: put the value in quotes"),
    ("did not find expected node content", "a value is missing here"),
    ("expected ',' or ']'", "a list opened with [ is not closed with ]"),
    ("expected ',' or '}'", "a mapping opened with { is not closed with }"),
    ("while scanning a quoted scalar", "a quote opened here is never closed"),
    ("found unknown escape character", "a backslash in double quotes: use single quotes"),
)
_OPENING_QUOTE = re.compile(r"""(?:^\s*|:\s+|-\s+|[\[{,]\s*)(["'])""")


def _friendly(reason: str) -> str:
    for needle, hint in _YAML_HINTS:
        if needle in reason:
            return hint
    return reason


def _unclosed_quote(text: str, before_line: int) -> tuple[int, int] | None:
    """The line and column of a quote that opens a value and is not closed on its line,
    at or before ``before_line``: PyYAML then reports a confusing error further down."""
    for number, line in enumerate(text.splitlines()[:before_line], 1):
        for found in _OPENING_QUOTE.finditer(line):
            quote, start = found.group(1), found.end(1)
            rest = line[start:]
            closed = rest.replace("\\" + quote, "").find(quote) >= 0
            if quote == "'":
                closed = rest.replace("''", "").find("'") >= 0
            if not closed:
                return number, start
    return None


# A list entry that is a mapping with one of these keys is named by its value
# (``currencies[USD]``, ``bot.commands[rates]``); other entries are counted from 1.
NAME_KEYS = ("code", "command", "id")


def format_loc(loc: Sequence[str | int], names: dict[Loc, str] | None = None) -> str:
    """``('currencies', 3, 'code')`` → ``currencies[USD].code`` when ``names`` knows the
    fourth currency's code, else ``currencies[4].code`` (entries counted from 1, as a
    person counts them)."""
    out = ""
    for i, part in enumerate(loc):
        if isinstance(part, int):
            name = (names or {}).get(tuple(loc[: i + 1]))
            out += f"[{name}]" if name else f"[{part + 1}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def did_you_mean(word: object, choices: Iterable[str]) -> str:
    """`` did you mean 'X'?`` or an empty string."""
    match = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f"; did you mean {match[0]!r}?" if match else ""


@dataclass
class SourceMap:
    """Line/column of every key and value of one YAML document (1-based)."""

    file: str
    values: dict[Loc, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Loc, tuple[int, int]] = field(default_factory=dict)
    names: dict[Loc, str] = field(default_factory=dict)  # list entries named by their code

    def label(self, loc: Sequence[str | int]) -> str:
        """``loc`` as a person reads it (see :func:`format_loc`)."""
        return format_loc(loc, self.names)

    def position(self, loc: Sequence[str | int], *, key: bool = False) -> tuple[int, int]:
        """Where ``loc`` is; falls back to the nearest ancestor that exists."""
        path = tuple(loc)
        while path:
            if key and path in self.keys:
                return self.keys[path]
            if path in self.values:
                return self.values[path]
            path = path[:-1]
        return self.values.get((), (1, 1))

    def problem(self, loc: Sequence[str | int], message: str, *, key: bool = False) -> Problem:
        line, col = self.position(loc, key=key)
        return Problem(self.file, line, col, self.label(loc), message)


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _walk(node: yaml.Node, loc: Loc, smap: SourceMap, problems: list[Problem]) -> None:
    smap.values[loc] = _mark(node)
    if isinstance(node, yaml.MappingNode):
        seen: dict[object, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
            child = (*loc, key)
            if key in seen:
                line, col = _mark(key_node)
                problems.append(
                    Problem(
                        smap.file,
                        line,
                        col,
                        smap.label(child),
                        f"duplicate key (first defined on line {seen[key]})",
                    )
                )
            seen[key] = _mark(key_node)[0]
            smap.keys[child] = _mark(key_node)
            _walk(value_node, child, smap, problems)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            name = _entry_name(item)
            if name is not None:
                smap.names[(*loc, index)] = name
            _walk(item, (*loc, index), smap, problems)


def _entry_name(node: yaml.Node) -> str | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    for key_node, value_node in node.value:
        if (
            isinstance(key_node, yaml.ScalarNode)
            and key_node.value in NAME_KEYS
            and isinstance(value_node, yaml.ScalarNode)
            and value_node.value.strip()
        ):
            return str(value_node.value).strip()[:20]
    return None


def display_path(path: Path, base: Path | None = None) -> str:
    """A path as a person would type it: relative to ``base`` (or cwd) when inside it."""
    for root in (base, Path.cwd()):
        if root is None:
            continue
        try:
            return str(path.resolve().relative_to(root.resolve()))
        except ValueError:
            continue
    return str(path)


def not_utf8(name: str, raw: bytes, exc: UnicodeDecodeError) -> Problem:
    """The problem of a file that is not UTF-8, at the line of its first odd byte."""
    line = raw[: exc.start].count(b"\n") + 1
    col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
    hint = ""
    try:
        raw.decode("cp1251")
        hint = " (it looks like Windows-1251, as Russian Windows editors save)"
    except UnicodeDecodeError:
        pass
    return Problem(
        name, line, col, "", f"this file is not UTF-8{hint}: save it as UTF-8 and check again"
    )


def read_text(path: Path, display: str | None = None) -> str:
    """A text file a person edits, as UTF-8.

    Raises:
        ConfigError: missing, unreadable, or not UTF-8 (said in plain words).
    """
    name = display or display_path(path)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([Problem(name, 1, 1, "", "file not found")]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError([not_utf8(name, path.read_bytes(), exc)]) from None
    except OSError as exc:
        raise ConfigError([Problem(name, 1, 1, "", f"cannot read file: {exc.strerror}")]) from None


def load_yaml(path: Path, display: str | None = None) -> tuple[Any, SourceMap]:
    """Parse one YAML file into plain data plus its :class:`SourceMap`.

    Raises:
        ConfigError: the file is missing, unreadable, not valid YAML or has duplicate keys.
    """
    name = display or display_path(path)
    text = read_text(path, name)
    for loader_class in _LOADERS[:-1]:  # libyaml: what it parses is what the last one would
        fast = loader_class(text)
        try:
            return _document(fast, fast.get_single_node(), name)
        except yaml.YAMLError:
            pass  # said the pure-Python parser's way, below
        finally:
            fast.dispose()
    loader = _LOADERS[-1](text)
    try:
        return _document(loader, loader.get_single_node(), name)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        reason = _friendly(f"{exc.context or ''} {exc.problem or ''}".strip() or "invalid YAML")
        quote = _unclosed_quote(text, line)
        if quote is not None:
            (line, col), reason = quote, "a quote opened here is never closed"
        raise ConfigError([Problem(name, line, col, "", f"YAML syntax error: {reason}")]) from None
    finally:
        loader.dispose()


def _document(loader: yaml.SafeLoader, node: yaml.Node | None, name: str) -> tuple[Any, SourceMap]:
    """The data of ``node`` and its source map.

    Raises:
        ConfigError: the file is empty or a mapping repeats a key.
    """
    if node is None:
        raise ConfigError([Problem(name, 1, 1, "", "file is empty")])
    smap = SourceMap(name)
    problems: list[Problem] = []
    _walk(node, (), smap, problems)
    if problems:
        raise ConfigError(problems)
    return loader.construct_document(node), smap
