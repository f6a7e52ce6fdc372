"""What a new config.yaml changes, and which of it a running bot can take.

Three kinds of settings:

* **restart needed** (:data:`RESTART_ONLY`): what the process acquired at start and cannot
  swap under running updates: the server's host and port (a listening socket), the storage
  (where every dialog in progress lives: a new one would lose them), the journal (its
  database and retention task), how updates arrive (``bot.mode``) and the webhook's path
  (the route Telegram posts to). A change is reported and *not applied at all*: the running
  value is kept (:func:`keep_running`) until the next start;
* **the rate side**: everything else but the dialog's own sections (:data:`DIALOG_ONLY`):
  currencies, directions, routing, providers, cache, breaker, preload, guard, budget, quote.
  The rate service reads them all (``compute_quote`` rounds with the currencies and the
  routing), so a change of any of them gets a new rate service (:func:`rates_differ`),
  never a dialog on new currencies with a rate service on old ones. A section added to
  config.yaml later is on the rate side by default: rebuilt, never half-applied;
* **the dialog's**: ``bot`` (but its mode and webhook path), ``locales``, ``flows``,
  ``templates_dir``: taken by the new dispatcher alone.

Pure functions of two :class:`AppConfig`; no aiogram import.
"""

from __future__ import annotations

from typing import Any

from engine.config.models import AppConfig

# (section, key) pairs, or (section,) for a whole section.
RESTART_ONLY: tuple[tuple[str, ...], ...] = (
    ("server",),
    ("storage",),
    ("journal",),
    ("bot", "mode"),
    ("bot", "webhook_path"),
)
DIALOG_ONLY = frozenset({"bot", "locales", "flows", "templates_dir"})


def _leaves(value: Any, prefix: str) -> dict[str, Any]:
    if isinstance(value, dict):
        found: dict[str, Any] = {}
        for key, item in value.items():
            found.update(_leaves(item, f"{prefix}.{key}"))
        return found
    return {prefix: value}


def restart_needed(running: AppConfig, new: AppConfig) -> list[str]:
    """Each restart-only setting ``new`` changes, as ``server.port (8080 → 8081)``."""
    before = running.model_dump(mode="json")
    after = new.model_dump(mode="json")
    changed: list[str] = []
    for key in RESTART_ONLY:
        old_value: Any = before
        new_value: Any = after
        for part in key:
            old_value, new_value = old_value[part], new_value[part]
        old_leaves = _leaves(old_value, ".".join(key))
        new_leaves = _leaves(new_value, ".".join(key))
        for name in sorted(old_leaves.keys() | new_leaves.keys()):
            was, now = old_leaves.get(name), new_leaves.get(name)
            if was != now:
                changed.append(f"{name} ({was} → {now})")
    return changed


def keep_running(running: AppConfig, new: AppConfig) -> AppConfig:
    """``new`` with every restart-only setting as it runs."""
    updates: dict[str, Any] = {}
    bot: dict[str, Any] = {}
    for key in RESTART_ONLY:
        if len(key) == 1:
            updates[key[0]] = getattr(running, key[0])
        else:
            section, name = key
            assert section == "bot", key
            bot[name] = getattr(running.bot, name)
    updates["bot"] = new.bot.model_copy(update=bot)
    return new.model_copy(update=updates)


def rates_differ(running: AppConfig, new: AppConfig) -> bool:
    """Whether the rate service of ``running`` cannot serve ``new`` (see the module
    docstring): any section but the dialog's and the restart-only ones differs."""
    leave_out = DIALOG_ONLY | {key[0] for key in RESTART_ONLY}
    return running.model_dump(mode="json", exclude=set(leave_out)) != new.model_dump(
        mode="json", exclude=set(leave_out)
    )
