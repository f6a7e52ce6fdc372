"""The e2e fakes of ``tests/e2e``, imported as they import each other.

Those modules import their siblings by bare name (``from loopback import ...``), as pytest's
rootdir insertion allows (and ``tests/`` itself, for ``pgscratch``); outside pytest those
folders have to be on ``sys.path`` first.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
E2E = ROOT / "tests" / "e2e"
for folder in (ROOT / "tests", E2E):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from fake_providers import API_KEY, FakeProviders  # noqa: E402
from fake_telegram import TOKEN, FakeTelegram  # noqa: E402
from harness import SCRUBBED, free_port, write_project  # noqa: E402

__all__ = ["API_KEY", "E2E", "ROOT", "TOKEN", "FakeProviders", "FakeTelegram", "free_port"]
__all__ += ["SCRUBBED", "write_project"]
