"""Engine tests see the snapshot kit's quote number and time, so rendered cards are stable
and the dialog's windows compare with the kit's."""

from __future__ import annotations

import pytest

from engine.flow import actions
from engine.testing.snapshots import QUOTE_NUMBER, QUOTE_TIME


@pytest.fixture(autouse=True)
def fixed_quote_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(actions, "quote_number", lambda: QUOTE_NUMBER)
    monkeypatch.setattr(actions, "quote_clock", lambda: QUOTE_TIME)
