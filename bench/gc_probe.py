"""``crypto-helper`` with its garbage collector watched — a diagnosis, not the shipped bot.

``python bench/gc_probe.py run --config ...`` runs :func:`engine.cli.main` in this process
after hooking :data:`gc.callbacks`: every collection is timed, gen-0/1 ones only summed,
gen-2 (full) ones kept one by one with their ``time.monotonic()`` (comparable with the
bench's clock). At exit the record goes to the JSON file named by ``BENCH_GC_LOG``.

It also counts and times pydantic's generic-model class builds (aiogram's ``check_response``
asks for ``Response[method.__returning__]`` on every API call). Pydantic keeps built classes
in a ``WeakValueDictionary``; a class parametrised inside a function is referenced by
nothing else, so a collection frees it and the next call builds it again.

On SIGUSR1 it writes a heap census next to that file (``<name>.heap<N>.json``): the
records of every aiogram ``MemoryStorage`` (and how many are empty: no state, no data) and
the most common object types — :func:`snapshot`.

Two what-ifs for the report, not something the shipped bot does:

* ``BENCH_PIN_GENERICS=1`` builds ``Response[...]`` for every aiogram method once at start
  and keeps them, so the cache always hits;
* ``BENCH_GC_FREEZE=1`` calls :func:`gc.freeze` once the bot's modules are imported, so full
  collections no longer walk the ~220k objects of aiogram's and pydantic's classes.
"""

from __future__ import annotations

import atexit
import gc
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

_started: list[float] = [0.0]
totals = {g: {"count": 0, "seconds": 0.0, "max": 0.0} for g in (0, 1, 2)}
full: list[tuple[float, float, int]] = []  # (monotonic at start, seconds, collected)
generics: dict[str, Any] = {"count": 0, "seconds": 0.0, "names": {}}
pinned: list[type] = []


def _watch(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _started[0] = time.perf_counter()
        return
    seconds = time.perf_counter() - _started[0]
    total = totals[info["generation"]]
    total["count"] += 1
    total["seconds"] += seconds
    total["max"] = max(total["max"], seconds)
    if info["generation"] == 2:
        full.append((time.monotonic() - seconds, seconds, info["collected"]))


def _dump() -> None:
    path = os.environ.get("BENCH_GC_LOG")
    if path:
        record = {
            "totals": totals,
            "full": full,
            "frozen": gc.get_freeze_count(),
            "generic_builds": generics,
            "pinned": len(pinned),
        }
        Path(path).write_text(json.dumps(record), encoding="utf-8")


def snapshot(*_: object) -> None:
    """Write a census of the heap (on SIGUSR1; runs between two bytecodes of the loop)."""
    from collections import Counter

    path = os.environ.get("BENCH_GC_LOG")
    if not path:
        return
    from aiogram.fsm.storage.memory import MemoryStorage

    objects = gc.get_objects()
    types = Counter(type(o).__qualname__ for o in objects)
    records = empty = 0
    for o in objects:
        if isinstance(o, MemoryStorage):
            records += len(o.storage)
            empty += sum(1 for r in o.storage.values() if r.state is None and not r.data)
    snapshots = sorted(Path(path).parent.glob(Path(path).name + ".heap*.json"))
    census = {
        "at": time.monotonic(),
        "objects": len(objects),
        "storage_records": records,
        "empty_storage_records": empty,
        "types": dict(types.most_common(40)),
    }
    target = Path(f"{path}.heap{len(snapshots)}.json")
    target.write_text(json.dumps(census), encoding="utf-8")


def _count_generic_builds() -> None:
    from pydantic._internal import _generics

    build = _generics.create_generic_submodel

    def counted(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return build(*args, **kwargs)
        finally:
            generics["count"] += 1
            generics["seconds"] += time.perf_counter() - started
            name = str(args[0]) if args else "?"
            generics["names"][name] = generics["names"].get(name, 0) + 1

    # BaseModel.__class_getitem__ looks it up on the module at each call.
    _generics.create_generic_submodel = counted


def _pin_generics() -> list[type]:
    from aiogram import methods
    from aiogram.methods.base import Response, TelegramMethod

    returning = {
        cls.__returning__
        for cls in vars(methods).values()
        if isinstance(cls, type) and issubclass(cls, TelegramMethod) and cls is not TelegramMethod
    }
    return [Response[r] for r in returning]


def main() -> int:
    signal.signal(signal.SIGUSR1, snapshot)
    gc.callbacks.append(_watch)
    _count_generic_builds()
    atexit.register(_dump)
    from engine.cli import main as cli_main

    if os.environ.get("BENCH_PIN_GENERICS") == "1":
        pinned.extend(_pin_generics())
        generics.update(count=0, seconds=0.0, names={})  # count what happens after
    if os.environ.get("BENCH_GC_FREEZE") == "1":
        import engine.app  # noqa: F401 - what a started bot has imported

        gc.collect()
        gc.freeze()
    return cli_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
