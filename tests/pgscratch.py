"""Scratch PostgreSQL databases for tests, and a TCP proxy to cut a database off.

:class:`ScratchDatabase` creates ``crypto_helper_test_<random>`` on the server named by
``TEST_DATABASE_URL`` (default ``postgresql+asyncpg://postgres@127.0.0.1:5432/postgres``,
the admin connection) and drops it afterwards; nothing else on that server is touched.
A test that needs PostgreSQL *fails* when none answers (``.ci/run`` installs and starts
one): a skipped test would hide a journal that was never tested against it.

:class:`TcpProxy` stands between the bot and a server on 127.0.0.1; ``cut()`` closes every
connection through it and refuses new ones (the database "went away"), ``restore()``
takes connections again on the same port.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import threading
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

T = TypeVar("T")
ADMIN_URL = os.environ.get(
    "TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)


def _in_thread(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on a loop of its own (callable from sync code and from async tests)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result(60)


def _dsn(url: str) -> str:
    """The asyncpg DSN of a SQLAlchemy URL."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def _with_database(url: str, name: str, port: int | None = None) -> str:
    """``url`` naming database ``name`` (and, given ``port``, 127.0.0.1:``port``)."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if port is not None:
        userinfo, at, _ = netloc.rpartition("@")
        netloc = f"{userinfo}{at}127.0.0.1:{port}"
    return urlunsplit((parts.scheme, netloc, f"/{name}", parts.query, ""))


async def _admin(sql: str) -> None:
    connection = await asyncpg.connect(_dsn(ADMIN_URL), timeout=5)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def require_postgres() -> None:
    """Fail the test, with what to do, when PostgreSQL does not answer."""
    try:
        _in_thread(_admin("SELECT 1"))
    except (OSError, asyncpg.PostgresError) as exc:
        where = urlsplit(ADMIN_URL).netloc.rpartition("@")[2]
        pytest.fail(
            f"PostgreSQL does not answer at {where} ({type(exc).__name__}: {exc}); start one "
            "(.ci/run does) or point TEST_DATABASE_URL at one",
            pytrace=False,
        )


class ScratchDatabase:
    """A database of one's own on the test server."""

    def __init__(self, prefix: str = "crypto_helper_test") -> None:
        self.name = f"{prefix}_{secrets.token_hex(5)}"

    @property
    def url(self) -> str:
        """The SQLAlchemy URL (``postgresql+asyncpg://…/name``)."""
        return _with_database(ADMIN_URL, self.name)

    def url_via(self, port: int) -> str:
        """The URL through a proxy listening on 127.0.0.1:``port``."""
        return _with_database(ADMIN_URL, self.name, port)

    @property
    def port(self) -> int:
        return urlsplit(ADMIN_URL).port or 5432

    def create(self) -> ScratchDatabase:
        require_postgres()
        _in_thread(_admin(f'CREATE DATABASE "{self.name}"'))
        return self

    def drop(self) -> None:
        _in_thread(_admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))

    def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        async def go() -> list[asyncpg.Record]:
            connection = await asyncpg.connect(_dsn(self.url), timeout=5)
            try:
                return list(await connection.fetch(sql, *args))
            finally:
                await connection.close()

        return _in_thread(go())

    def execute(self, sql: str, *args: Any) -> None:
        self.fetch(sql, *args)


class TcpProxy:
    """Forwards 127.0.0.1:``port`` to ``target_port``, in a thread with its own loop."""

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port: int = sock.getsockname()[1]
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.StreamWriter] = set()

    def start(self) -> TcpProxy:
        self._thread.start()
        self.restore()
        return self

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def restore(self) -> None:
        """Take connections (again)."""
        self._call(self._listen())

    def cut(self) -> None:
        """Close every connection and refuse new ones."""
        self._call(self._cut())

    def stop(self) -> None:
        if self._thread.is_alive():
            self.cut()
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(5)
        self.loop.close()

    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def _cut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._pipes):
            writer.transport.abort()
        self._pipes.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._pipes.update({writer, up_writer})
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            self._pipes.discard(writer)
            with contextlib.suppress(OSError, RuntimeError):
                writer.close()
