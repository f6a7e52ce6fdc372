"""A loopback fake upstream for provider tests (aiohttp.web + TestServer, no network).

Tell it per path what to answer, in order (the last reply repeats)::

    upstream.serve("/open/market/rates", Reply(500), Reply.of_file("rapira_market_rates.json"))

and read back what it received: ``upstream.calls("/open/market/rates")[0].headers``.
Where the answer depends on the request (APILayer's symbols), give a function instead::

    upstream.respond("/exchangerates_data/latest", lambda request: Reply(...))
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestServer
from multidict import CIMultiDictProxy

DATA_DIR = Path(__file__).resolve().parents[1] / "data" / "providers"

# A generic gateway error page (nginx style). Synthesized: a transport failure, not a
# vendor format.
HTML_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


def recorded(name: str) -> bytes:
    """The bytes of a recorded sample in ``tests/data/providers``."""
    return (DATA_DIR / name).read_bytes()


@dataclass(frozen=True)
class Reply:
    """One canned answer.

    Attributes:
        status: the HTTP status.
        body: the body bytes, sent as they are.
        headers: extra response headers.
        delay: seconds to wait before answering (cut short when the server closes).
        content_type: the ``Content-Type`` header.
        drop_after: send only this many body bytes (with the full Content-Length), then
            drop the connection: a transfer cut mid-body.
    """

    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    content_type: str = "application/json"
    drop_after: int | None = None

    @classmethod
    def of_file(cls, name: str, status: int = 200, **kwargs: object) -> Reply:
        return cls(status, recorded(name), **kwargs)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Recorded:
    """A request the fake upstream received."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: CIMultiDictProxy[str]


Responder = Callable[[Recorded], Reply]


class FakeUpstream:
    """The fake server; use the ``upstream`` fixture rather than building one."""

    def __init__(self) -> None:
        self._replies: dict[tuple[str, frozenset[tuple[str, str]]], list[Reply]] = {}
        self._responders: dict[str, Responder] = {}
        self.requests: list[Recorded] = []
        self._closing = asyncio.Event()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._server = TestServer(app, host="127.0.0.1")

    async def start(self) -> None:
        await self._server.start_server()

    async def close(self) -> None:
        self._closing.set()  # wake delayed handlers so shutdown does not wait for them
        await self._server.close()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash)."""
        return str(self._server.make_url("")).rstrip("/")

    def serve(self, path: str, *replies: Reply, when: Mapping[str, str] | None = None) -> None:
        """Answer ``path`` with ``replies`` in order; the last one repeats.

        With ``when``, only requests whose query has those parameters get these replies
        (checked before the replies for the bare path).
        """
        assert replies, "give at least one reply"
        self._replies[_key(path, when)] = list(replies)

    def respond(self, path: str, responder: Responder) -> None:
        """Answer ``path`` with ``responder(request)`` (before any :meth:`serve` replies)."""
        self._responders[path] = responder

    def calls(self, path: str | None = None) -> list[Recorded]:
        return [r for r in self.requests if path is None or r.path == path]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        received = Recorded(request.method, request.path, dict(request.query), request.headers)
        self.requests.append(received)
        responder = self._responders.get(request.path)
        if responder is not None:
            return await self._send(request, responder(received))
        queue = next(
            (
                replies
                for (path, when), replies in self._replies.items()
                if path == request.path and when and when <= set(request.query.items())
            ),
            None,
        ) or self._replies.get(_key(request.path, None))
        if not queue:
            return web.Response(status=599, text=f"fake upstream: nothing for {request.path}")
        return await self._send(request, queue.pop(0) if len(queue) > 1 else queue[0])

    async def _send(self, request: web.Request, reply: Reply) -> web.StreamResponse:
        if reply.delay:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), reply.delay)
        headers = {"Content-Type": reply.content_type, **reply.headers}
        if reply.drop_after is None:
            return web.Response(status=reply.status, body=reply.body, headers=headers)
        resp = web.StreamResponse(status=reply.status, headers=headers)
        resp.content_length = len(reply.body)
        await resp.prepare(request)
        await resp.write(reply.body[: reply.drop_after])
        assert request.transport is not None
        request.transport.close()
        return resp


def _key(path: str, when: Mapping[str, str] | None) -> tuple[str, frozenset[tuple[str, str]]]:
    return path, frozenset((when or {}).items())


def unused_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
