"""The Redis tests' corner of a shared redis-server: a key prefix per test, cleaned alone.

The server is ``REDIS_URL`` (any database; default ``redis://127.0.0.1:6379/15``). A test
writes only under its own prefix (``test:<uuid>:``) and afterwards deletes only the keys
under it (SCAN + DEL), so a developer's data, and other tests running at the same time,
are never touched. No server means failing tests, not skipped ones.
"""

from __future__ import annotations

import contextlib
import os
import re
import uuid
from collections.abc import AsyncIterator

from redis.asyncio import Redis

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")


def scratch_prefix() -> str:
    """A key prefix no other test (or person) uses: ``test:<uuid>:``."""
    return f"test:{uuid.uuid4().hex}:"


def glob_escape(text: str) -> str:
    """``text`` as a literal in a Redis MATCH pattern (``*?[]^-\\`` escaped)."""
    return re.sub(r"([*?\[\]^\-\\])", r"\\\1", text)


async def delete_prefixed(client: Redis, prefix: str) -> int:
    """Delete every key that starts with ``prefix``, nothing else; return how many."""
    if not prefix:
        raise ValueError("an empty prefix would delete every key")
    keys = [key async for key in client.scan_iter(match=f"{glob_escape(prefix)}*", count=500)]
    for start in range(0, len(keys), 500):
        await client.delete(*keys[start : start + 500])
    return len(keys)


@contextlib.asynccontextmanager
async def scratch_redis(prefix: str) -> AsyncIterator[Redis]:
    """A client of ``REDIS_URL`` that answers; on exit, the keys under ``prefix`` are
    deleted (and no other key is touched)."""
    client = Redis.from_url(REDIS_URL)
    try:
        await client.ping()  # fails the test when there is no server
        yield client
        await delete_prefixed(client, prefix)
    finally:
        await client.aclose()
