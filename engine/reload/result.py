"""What a reload did, as the log, ``/health/ready`` and ``crypto-helper reload`` say it.

Plain data; no aiogram import.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

# applied: the new set serves; unchanged: the files are the running set's, nothing to do;
# failed: the running set goes on serving (problems found, or the new set could not be built).
Outcome = Literal["applied", "unchanged", "failed"]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ReloadResult:
    """One reload.

    Attributes:
        outcome: see :data:`Outcome`.
        trigger: what asked for it (``SIGHUP``, ``crypto-helper reload``, ``file change``).
        tried: the fingerprint of the set read from the files.
        running: the fingerprint of the set serving afterwards.
        problems: the errors, as ``crypto-helper check`` prints them.
        warnings: ``check``'s warnings (they never fail a reload).
        restart_needed: the settings changed that only a restart applies (not applied).
        error: why a valid set could not be put in place (a bug; logged with its
            traceback), else None.
        seconds: how long it took.
        at: when it finished (UTC).
    """

    outcome: Outcome
    trigger: str
    tried: str
    running: str
    problems: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    restart_needed: tuple[str, ...] = ()
    error: str | None = None
    seconds: float = 0.0
    at: datetime = field(default_factory=utc_now)

    @property
    def ok(self) -> bool:
        """Whether the bot now serves what the files say (applied, or already did)."""
        return self.outcome != "failed"

    def to_json(self) -> dict[str, Any]:
        return {
            "result": self.outcome,
            "trigger": self.trigger,
            "at": self.at.isoformat(timespec="seconds"),
            "tried": self.tried,
            "running": self.running,
            "problems": list(self.problems),
            "warnings": list(self.warnings),
            "restart_needed": list(self.restart_needed),
            "error": self.error,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class LoadedSet:
    """The set serving: its fingerprint, how many files, since when."""

    fingerprint: str
    files: int
    since: datetime = field(default_factory=utc_now)


def status_json(loaded: LoadedSet, last: ReloadResult | None) -> dict[str, Any]:
    """``/health/ready``'s ``definitions``: the set serving and the last reload (problems
    counted, not listed: the log and ``crypto-helper reload`` list them)."""
    last_json: dict[str, Any] | None = None
    if last is not None:
        last_json = {
            "at": last.at.isoformat(timespec="seconds"),
            "trigger": last.trigger,
            "result": last.outcome,
            "tried": last.tried,
            "problems": len(last.problems),
            "warnings": len(last.warnings),
            "restart_needed": list(last.restart_needed),
            "error": last.error,
            "seconds": round(last.seconds, 3),
        }
    return {
        "hash": loaded.fingerprint,
        "files": loaded.files,
        "loaded_at": loaded.since.isoformat(timespec="seconds"),
        "last_reload": last_json,
    }
