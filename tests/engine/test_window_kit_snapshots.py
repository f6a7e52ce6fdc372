"""Every window of the shipped config through the snapshot kit, as a desk's own test has it
(the README's five lines): review a diff here like code, ``pytest --snapshot-update``."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_windows(crypto_helper_windows, snapshot):
    assert crypto_helper_windows(ROOT / "config.yaml") == snapshot
