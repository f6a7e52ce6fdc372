"""The snapshot kit: pytest fixtures that render every window of a config for syrupy.

Installed with the package and loaded by pytest through the ``pytest11`` entry point
(``crypto_helper``), so a desk that keeps its own config.yaml, flows and templates writes::

    def test_windows(crypto_helper_windows, snapshot):
        assert crypto_helper_windows("config.yaml") == snapshot

``pytest --snapshot-update`` writes the snapshot; after that, a test fails with a diff of
exactly the windows an edit changed. Fixtures:

* ``crypto_helper_windows(path, *, locale=None, step=None, case=None, mask_times=True)``:
  ``{window name: text and keyboard}`` (see :mod:`engine.testing.snapshots`), optionally
  only the windows ``crypto-helper preview --locale/--step/--case`` would show;
  ``mask_times=False`` keeps the times and dates a template writes itself (an example
  ``/export 2026-12-01``) instead of ``<date>``;
* ``crypto_helper_screens(path)``: the rendered :class:`~engine.preview.Screen` objects,
  for a test that shapes its own snapshot.

A relative ``path`` is taken from pytest's root folder (where pytest.ini, pyproject.toml
or setup.cfg is). A config with problems fails the test with what ``crypto-helper check``
says. This module imports nothing of the engine until a fixture is used, so loading the
plugin costs a run that does not use it nothing; the fixture names start with
``crypto_helper_`` so they clash with no project's own.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import pytest

if TYPE_CHECKING:  # types only: the engine is imported when a fixture is first used
    from engine.preview import Screen

__all__ = ["WindowsRenderer", "crypto_helper_screens", "crypto_helper_windows"]


class WindowsRenderer(Protocol):
    """What ``crypto_helper_windows`` gives a test."""

    def __call__(
        self,
        config_path: str | os.PathLike[str],
        *,
        locale: str | None = None,
        step: str | None = None,
        case: str | None = None,
        mask_times: bool = True,
    ) -> dict[str, str]: ...


def _resolve(request: pytest.FixtureRequest, config_path: str | os.PathLike[str]) -> Path:
    path = Path(config_path)
    return path if path.is_absolute() else Path(request.config.rootpath) / path


@pytest.fixture
def crypto_helper_windows(request: pytest.FixtureRequest) -> WindowsRenderer:
    """Every window of a config as ``{name: text and keyboard}``, intent ids and times
    masked, rates from the config's ``providers.static``: compare it with ``snapshot``."""

    def render(
        config_path: str | os.PathLike[str],
        *,
        locale: str | None = None,
        step: str | None = None,
        case: str | None = None,
        mask_times: bool = True,
    ) -> dict[str, str]:
        from engine.preview import PreviewSelectionError
        from engine.testing.snapshots import SnapshotConfigError, render_windows

        path = _resolve(request, config_path)
        try:
            return render_windows(path, locale=locale, step=step, case=case, mask_times=mask_times)
        except (SnapshotConfigError, PreviewSelectionError) as exc:
            failure = f"crypto_helper_windows({str(config_path)!r}):\n{exc}"
        pytest.fail(failure, pytrace=False)  # outside the except: no chained traceback

    return render


@pytest.fixture
def crypto_helper_screens(
    request: pytest.FixtureRequest,
) -> Callable[[str | os.PathLike[str]], list[Screen]]:
    """Every rendered window of a config as :class:`~engine.preview.Screen` objects."""

    def render(config_path: str | os.PathLike[str]) -> list[Screen]:
        from engine.testing.snapshots import SnapshotConfigError, render_screens

        try:
            return render_screens(_resolve(request, config_path))
        except SnapshotConfigError as exc:
            failure = f"crypto_helper_screens({str(config_path)!r}):\n{exc}"
        pytest.fail(failure, pytrace=False)  # outside the except: no chained traceback

    return render
