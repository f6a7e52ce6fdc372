"""Sample the bot with py-spy while it is under load, and summarise where its time goes.

``py-spy record --format raw`` writes one line per distinct stack: frames joined by ``;``
(outermost first, each ``function (file:line)``) and a sample count. The summary gives the
share of on-CPU samples spent inside each package (inclusive) and the functions that were
on top of the stack (self time). Idle samples (the event loop waiting in ``select``) are
counted apart, so the shares are of the time the bot was busy.
"""

from __future__ import annotations

import re
import shutil
from collections import Counter
from pathlib import Path

from bench.process import Child
from bench.stats import table

_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")
IDLE = ("select", "poll")  # the event loop waiting in selectors.py


def py_spy_child(pid: int, output: Path, log: Path) -> Child | None:
    """A py-spy recorder attached to ``pid`` (None when py-spy is not installed)."""
    exe = shutil.which("py-spy")
    if exe is None:
        return None
    argv = [exe, "record", "--pid", str(pid), "--rate", "100", "--format", "raw"]
    argv += ["--output", str(output), "--nonblocking", "--full-filenames"]
    return Child("py-spy", argv, {"PATH": "/usr/bin:/bin"}, output.parent, log)


def short_path(path: str) -> str:
    """The path from the package on: ``aiogram/dispatcher/dispatcher.py``, ``engine/app.py``."""
    path = path.replace("\\", "/")
    for marker in ("/site-packages/", "/lib/python3.11/", "/lib/python3/"):
        if marker in path:
            return path.split(marker, 1)[1]
    for local in ("/engine/", "/providers/", "/bench/"):
        if local in path:
            return local.strip("/") + "/" + path.split(local, 1)[1]
    return path.rsplit("/", 1)[-1]


def package_of(path: str) -> str:
    """``aiogram_dialog``, ``jinja2``, ``engine``…; ``stdlib:<module>`` for the stdlib."""
    if path.endswith(".j2"):
        return "templates (compiled Jinja)"
    if "/bin/" in path:
        return "entry script"
    short = short_path(path)
    first = short.split("/", 1)[0].removesuffix(".py")
    if "/site-packages/" in path or first in ("engine", "providers", "bench"):
        return first
    return f"stdlib:{first}"


# Cost centres: a sample counts for each whose pattern occurs in any frame of its stack.
COST_CENTRES = (
    ("pydantic generic class builds (aiogram Response[...])", ("create_generic_submodel",)),
    ("thread pool: sync filters via asyncio.to_thread", ("to_thread", "futures/thread.py")),
    ("Jinja rendering", ("jinja2/", ".j2:")),
    ("Babel number formatting", ("babel/",)),
    ("logging", ("logging/__init__.py",)),
    ("pydantic validate/serialise", ("model_validate", "model_dump", "BaseModel.__init__")),
    ("aiogram-dialog (all of it)", ("aiogram_dialog/",)),
    ("aiohttp (client and server)", ("aiohttp/",)),
    ("rates (engine/rates)", ("engine/rates/",)),
)


def summarize(raw: Path, top: int = 15) -> str:
    """The package and function tables of a raw py-spy profile."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    own_package: Counter[str] = Counter()
    centres: Counter[str] = Counter()
    busy = idle = 0
    for line in raw.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [f for f in stack.split(";") if f]
        leaf = _FRAME.match(frames[-1]) if frames else None
        if leaf is None or (leaf["func"] in IDLE and leaf["file"].endswith("selectors.py")):
            idle += count
            continue
        busy += count
        packages = set()
        for frame in frames:
            match = _FRAME.match(frame)
            if match:
                packages.add(package_of(match["file"]))
        packages.discard("bench")  # the gc_probe wrapper, when used: always at the bottom
        for package in packages:
            inclusive[package] += count
        name = f"{leaf['func']} ({short_path(leaf['file'])}:{leaf['line']})"
        own[name] += count
        own_package[package_of(leaf["file"])] += count
        shortened = stack.replace(str(Path.cwd()), "")
        for label, patterns in COST_CENTRES:
            if any(p in shortened for p in patterns):
                centres[label] += count
    if not busy:
        return "py-spy: no busy samples"

    def share(n: int) -> str:
        return f"{100 * n / busy:.1f}%"

    head = (
        f"py-spy: {busy + idle} samples, {busy} busy ({100 * busy / (busy + idle):.0f}%); "
        "shares below are of busy samples"
    )
    packages = table(
        ["package", "self", "inclusive"],
        [(p, share(n), share(inclusive[p])) for p, n in own_package.most_common(top)],
    )
    costs = table(
        ["cost centre (inclusive)", "share"],
        [(label, share(centres[label])) for label, _ in COST_CENTRES],
    )
    functions = table(
        ["function on top of the stack (self)", "share"],
        [(f[:90], share(n)) for f, n in own.most_common(top)],
    )
    return f"{head}\n\n{costs}\n\n{packages}\n\n{functions}"
