"""``POST /reload`` on the health port: what ``crypto-helper reload`` calls.

Why the health port rather than a pid file and a signal: the answer carries the result back
(applied, nothing new, or the very lines ``check`` prints), so the command can exit with
it; and it needs nothing on disk that replicas on one machine would share (one pid file per
``DATA_DIR``), nor the same process namespace (a container's). ``kill -HUP`` stays for
whoever prefers a signal.

Who may call it: with ``METRICS_TOKEN`` set, whoever sends ``Authorization: Bearer
<token>`` (as for ``/metrics``); without it, this machine only (a loopback peer, and no
``X-Forwarded-For``/``Forwarded``/``X-Real-IP`` header, which a reverse proxy on the same
machine would add to a request from outside). A reload only reads the files already on
disk and keeps them only if they pass the check.

Answers: 200 with the result (applied, or unchanged); 422 when the files have problems
(listed); 500 when a valid set could not be put in place; 503 while the bot stops;
401/403 for a caller not allowed.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Awaitable, Callable

from aiohttp import web

from engine.reload.result import ReloadResult

RELOAD_PATH = "/reload"
PROXY_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP")


def _loopback(remote: str | None) -> bool:
    if remote is None:
        return False
    try:
        address = ipaddress.ip_address(remote)
    except ValueError:  # a Unix socket peer
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def refusal(request: web.Request, token: str | None) -> web.Response | None:
    """The answer to a caller who may not reload, or None."""
    if token is not None:
        given = request.headers.get("Authorization", "")
        if hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return None
        return web.json_response(
            {"error": "send Authorization: Bearer <METRICS_TOKEN>"},
            status=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    if _loopback(request.remote) and not any(h in request.headers for h in PROXY_HEADERS):
        return None
    return web.json_response(
        {
            "error": "POST /reload is taken from this machine only; set METRICS_TOKEN to allow it "
            "with Authorization: Bearer <token>"
        },
        status=403,
    )


def status_of(result: ReloadResult) -> int:
    if result.ok:
        return 200
    if result.problems:
        return 422
    return 503 if result.error == "stopping" else 500


def setup_reload_route(
    app: web.Application,
    reload: Callable[[], Awaitable[ReloadResult]],
    *,
    config: str,
    token: str | None,
) -> None:
    """Add ``POST /reload`` to ``app`` (see the module docstring).

    Args:
        app: the health/webhook application, not started yet.
        reload: runs one reload (``crypto-helper reload`` as its trigger).
        config: the config.yaml the bot runs, said in the answer (the command compares it
            with the one it was given).
        token: ``METRICS_TOKEN``, or None.
    """

    async def handle(request: web.Request) -> web.Response:
        refused = refusal(request, token)
        if refused is not None:
            return refused
        result = await reload()
        return web.json_response({**result.to_json(), "config": config}, status=status_of(result))

    app.router.add_post(RELOAD_PATH, handle)
