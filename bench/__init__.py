"""Load benchmark of the real ``crypto-helper run`` process against the e2e fakes.

Not a test: ``python -m bench.run`` prints a report (see ``bench/README.md``). aiogram is
imported here as ``crypto-helper run`` imports it (:mod:`engine.lazy_aiogram`), so that
``bench.inprocess`` measures the dispatcher as it runs.
"""

from engine.lazy_aiogram import import_aiogram

import_aiogram()
