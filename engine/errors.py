"""The engine's exception root and the user-facing problem report.

User mistakes in YAML and templates are :class:`Problem` values collected into a
:class:`ConfigError`; they print as ``FILE:LINE:COL: dotted.path: message`` and never as a
traceback. Bugs stay ordinary exceptions.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass


class EngineError(Exception):
    """Root of every error the engine raises on purpose."""


def causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, then what caused it (``__cause__``, else ``__context__``), and so on; each
    once, so a cycle in the chain ends."""
    seen: BaseException | None = exc
    visited: set[int] = set()
    while seen is not None and id(seen) not in visited:
        visited.add(id(seen))
        yield seen
        seen = seen.__cause__ or seen.__context__


@dataclass(frozen=True, slots=True, order=True)
class Problem:
    """One thing wrong in a file a person edits."""

    file: str
    line: int
    col: int
    path: str
    message: str
    warning: bool = False  # worth a look, but nothing fails because of it

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.col}"
        message = f"warning: {self.message}" if self.warning else self.message
        return f"{where}: {self.path}: {message}" if self.path else f"{where}: {message}"


class ConfigError(EngineError):
    """One or more problems in config.yaml, a flow or a template."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = sorted(set(problems))
        super().__init__("\n".join(str(p) for p in self.problems))
