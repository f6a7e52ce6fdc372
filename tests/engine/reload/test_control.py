"""``POST /reload`` and ``crypto-helper reload``: who may ask, what the command prints."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from reload_helpers import copy_project, edit

from engine.reload.command import reload_url, request_reload
from engine.reload.control import setup_reload_route
from engine.reload.result import ReloadResult

APPLIED = ReloadResult(
    "applied", "crypto-helper reload", "bbbbbbbbbbbb", "bbbbbbbbbbbb", seconds=0.9
)
FAILED = ReloadResult(
    "failed",
    "crypto-helper reload",
    "cccccccccccc",
    "aaaaaaaaaaaa",
    problems=(
        "templates/ru/source.j2:3:1: template syntax error: a {{ … }} here is not closed, "
        "or has something odd inside",
    ),
    warnings=(
        "flows/exchange.yaml:91:3: steps.orphan: warning: no path from start reaches this step",
    ),
)


def _app(result: ReloadResult, token: str | None, calls: list[str]) -> web.Application:
    async def reload() -> ReloadResult:
        calls.append("reload")
        return result

    app = web.Application()
    setup_reload_route(app, reload, config="/srv/bot/config.yaml", token=token)
    return app


@pytest.fixture
async def client_for() -> AsyncIterator[Callable[..., Awaitable[TestClient[Any, Any]]]]:
    clients: list[TestClient[Any, Any]] = []

    async def make(
        result: ReloadResult = APPLIED, token: str | None = None, calls: list[str] | None = None
    ) -> TestClient[Any, Any]:
        client = TestClient(TestServer(_app(result, token, calls if calls is not None else [])))
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


async def test_from_this_machine_without_a_token(client_for) -> None:
    calls: list[str] = []
    client = await client_for(calls=calls)
    response = await client.post("/reload")
    assert response.status == 200
    body = await response.json()
    assert body["result"] == "applied" and body["running"] == "bbbbbbbbbbbb"
    assert body["config"] == "/srv/bot/config.yaml"
    # through a reverse proxy on this machine: not from this machine
    response = await client.post("/reload", headers={"X-Forwarded-For": "203.0.113.9"})
    assert response.status == 403
    assert "set METRICS_TOKEN" in (await response.json())["error"]
    assert calls == ["reload"]


async def test_with_a_token_it_is_needed(client_for) -> None:
    calls: list[str] = []
    client = await client_for(token="s3cret", calls=calls)
    assert (await client.post("/reload")).status == 401
    wrong = await client.post("/reload", headers={"Authorization": "Bearer nope"})
    assert wrong.status == 401
    right = await client.post(
        "/reload", headers={"Authorization": "Bearer s3cret", "X-Forwarded-For": "203.0.113.9"}
    )
    assert right.status == 200 and calls == ["reload"]


async def test_problems_are_a_422_with_the_lines(client_for) -> None:
    client = await client_for(FAILED)
    response = await client.post("/reload")
    assert response.status == 422
    assert (await response.json())["problems"] == list(FAILED.problems)


def _project(tmp_path: Path, port: int) -> Path:
    config = copy_project(tmp_path)
    edit(config, "  port: 8080 ", f"  host: 127.0.0.1\n  port: {port} ")
    return config


async def _run_command(config: Path, environ: dict[str, str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = await asyncio.to_thread(request_reload, config, environ, out, err)
    return code, out.getvalue(), err.getvalue()


async def test_the_command_says_what_the_bot_did(tmp_path: Path, client_for) -> None:
    client = await client_for()
    config = _project(tmp_path, client.port)
    code, out, err = await _run_command(config, {})
    assert code == 0
    assert out == "reloaded: set bbbbbbbbbbbb is serving (0.90 s)\n"
    assert err == f"note: the bot runs /srv/bot/config.yaml, not {config}\n"


async def test_the_command_prints_the_problems_as_check_does(tmp_path: Path, client_for) -> None:
    client = await client_for(FAILED, token="s3cret")
    config = _project(tmp_path, 1)  # PORT wins over server.port
    code, out, err = await _run_command(
        config, {"PORT": str(client.port), "METRICS_TOKEN": "s3cret"}
    )
    assert code == 2 and out == ""
    assert err.splitlines()[1:] == [
        FAILED.warnings[0],
        FAILED.problems[0],
        "1 problem(s) found; the bot still serves set aaaaaaaaaaaa.",
    ]
    code, _, err = await _run_command(config, {"PORT": str(client.port)})  # no token
    assert code == 1
    assert (
        err
        == "crypto-helper reload: the bot refused: send Authorization: Bearer <METRICS_TOKEN>\n"
    )


async def test_the_command_without_a_bot(tmp_path: Path) -> None:
    server = TestServer(web.Application())
    await server.start_server()
    port = server.port
    await server.close()  # nothing listens there now
    config = _project(tmp_path, port)
    code, out, err = await _run_command(config, {})
    assert code == 1 and out == ""
    assert err == (
        f"crypto-helper reload: no bot answers at http://127.0.0.1:{port} (connection refused);"
        " is crypto-helper run running? (its port: server.port; set PORT to the bot's port)\n"
    )


def test_where_the_command_asks(tmp_path: Path) -> None:
    config = copy_project(tmp_path)
    assert reload_url(config, {}) == ("http://127.0.0.1:8080/reload", "server.port")
    assert reload_url(config, {"PORT": "9000"}) == ("http://127.0.0.1:9000/reload", "PORT")
    edit(config, "server:\n", "server:\n  host: '::'\n")
    assert reload_url(config, {})[0] == "http://[::1]:8080/reload"
    config.write_text("server: [broken", encoding="utf-8")  # read leniently
    assert reload_url(config, {}) == ("http://127.0.0.1:8080/reload", "the default port")
