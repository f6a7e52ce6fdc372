"""``crypto-helper`` with its per-user throttle switched off: the "before" of bench/flood.py.

``python bench/unthrottled.py run --config ...`` runs :func:`engine.cli.main` in this
process after making :class:`engine.bot.throttle.UserThrottle` let every update through.
Not the shipped bot: a what-if for the report.
"""

from __future__ import annotations

import sys
from functools import partialmethod

from engine.lazy_aiogram import import_aiogram

import_aiogram()  # first, as `crypto-helper run` does: the "before" pays the same imports

from engine.bot import throttle  # noqa: E402
from engine.cli import main  # noqa: E402

throttle.UserThrottle.__init__ = partialmethod(  # type: ignore[method-assign]
    throttle.UserThrottle.__init__, enabled=False
)

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
