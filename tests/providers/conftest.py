"""Fixtures for provider tests: a loopback fake upstream and the shared HTTP session."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from fake_upstream import FakeUpstream

from providers.http import create_http_session


@pytest.fixture
async def upstream() -> AsyncIterator[FakeUpstream]:
    server = FakeUpstream()
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def http_session() -> AsyncIterator[aiohttp.ClientSession]:
    session = create_http_session()
    yield session
    await session.close()
