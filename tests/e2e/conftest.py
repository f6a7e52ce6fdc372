"""End-to-end fixtures: the fakes and the real bot process.

Starting the bot takes seconds (importing aiogram), so the scenario modules share one
process (``bot``, with ``tg`` and ``upstreams``) and each test drives its own admin id.
Modules that stop bots or break the providers from the start take the ``own_*`` fixtures:
fresh fakes and a launcher for that module alone.

A failing test gets the logs of the bot processes it used and the fake Telegram's
transcript attached to its report.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.fake_providers import FakeProviders
from tests.e2e.fake_telegram import FakeTelegram
from tests.e2e.harness import BotLauncher, BotProcess

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/e2e is ``e2e``, and ``slow``: out of the quick loop
    (``pytest -m "not slow"``), as most start bot processes."""
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.e2e)
            item.add_marker(pytest.mark.slow)


def _fake_telegram() -> Iterator[FakeTelegram]:
    fake = FakeTelegram().start()
    yield fake
    fake.stop()


def _fake_providers() -> Iterator[FakeProviders]:
    fake = FakeProviders().start()
    yield fake
    fake.stop()


def _launcher(
    factory: pytest.TempPathFactory, tg: FakeTelegram, upstreams: FakeProviders
) -> Iterator[BotLauncher]:
    launch = BotLauncher(factory.mktemp("e2e"), tg, upstreams)
    yield launch
    launch.stop_all()


@pytest.fixture(scope="session")
def tg() -> Iterator[FakeTelegram]:
    yield from _fake_telegram()


@pytest.fixture(scope="session")
def upstreams() -> Iterator[FakeProviders]:
    yield from _fake_providers()


@pytest.fixture(scope="session")
def launcher(
    tmp_path_factory: pytest.TempPathFactory, tg: FakeTelegram, upstreams: FakeProviders
) -> Iterator[BotLauncher]:
    yield from _launcher(tmp_path_factory, tg, upstreams)


@pytest.fixture(scope="session")
def bot(launcher: BotLauncher) -> BotProcess:
    """The shared bot process, with working fake providers. Do not stop it."""
    return launcher.start()


@pytest.fixture(scope="module")
def own_tg() -> Iterator[FakeTelegram]:
    yield from _fake_telegram()


@pytest.fixture(scope="module")
def own_upstreams() -> Iterator[FakeProviders]:
    yield from _fake_providers()


@pytest.fixture(scope="module")
def own_launcher(
    tmp_path_factory: pytest.TempPathFactory, own_tg: FakeTelegram, own_upstreams: FakeProviders
) -> Iterator[BotLauncher]:
    yield from _launcher(tmp_path_factory, own_tg, own_upstreams)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
    report: pytest.TestReport = yield
    if report.failed:
        values = getattr(item, "funcargs", {}).values()
        for launch in (v for v in values if isinstance(v, BotLauncher)):
            for process in launch.processes:
                state = "running" if process.alive else f"exit code {process.returncode}"
                report.sections.append(
                    (f"bot process {process.name} ({state}), log tail", process.log_tail())
                )
            report.sections.append(
                ("fake Telegram transcript", launch.tg.transcript(last_calls=40))
            )
    return report


@pytest.fixture
def fresh_tg() -> Iterator[FakeTelegram]:
    """A fake Telegram for one test alone."""
    yield from _fake_telegram()


@pytest.fixture
def fresh_upstreams() -> Iterator[FakeProviders]:
    """Fake providers for one test alone (to be set up before its bot starts)."""
    yield from _fake_providers()
