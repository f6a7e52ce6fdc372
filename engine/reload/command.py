"""``crypto-helper reload``: ask the running bot to reload, and say what it did.

It posts to the bot's ``POST /reload`` (:mod:`.control`) on this machine: the port is
``PORT`` (the environment, or ``.env`` in the current folder, as ``run`` reads it), else
config.yaml's ``server.port``; the host config.yaml's ``server.host`` (``0.0.0.0`` and
``::`` mean this machine). config.yaml is read leniently, since the reason to reload may be
that it changed, even into something that does not validate. ``METRICS_TOKEN``, when set,
is sent as the bot wants it.

Exit status: 0 when the bot serves the files (reloaded, or nothing new), 2 when the files
have problems (printed as ``check`` prints them; the bot still serves its set), 1 when the
bot cannot be asked or could not put the set in place.

The standard library's ``urllib`` on purpose: a command that starts in a blink, with no
aiohttp or aiogram import, for one request.
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from engine.config.source import load_yaml
from engine.errors import ConfigError

EXIT_USER_ERROR = 2
EXIT_FAILED = 1
DEFAULT_PORT = 8080
# Validation renders every window: about a second, more while another reload runs.
TIMEOUT_SECONDS = 60.0
ANY_ADDRESS = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}


def _server_section(config: Path) -> dict[str, Any]:
    try:
        data, _ = load_yaml(config)
    except ConfigError:
        return {}
    server = data.get("server") if isinstance(data, dict) else None
    return server if isinstance(server, dict) else {}


def reload_url(config: Path, environ: Mapping[str, str]) -> tuple[str, str]:
    """The bot's ``/reload`` URL, and where its port came from."""
    server = _server_section(config)
    host = server.get("host", "0.0.0.0")
    host = ANY_ADDRESS.get(host, host) if isinstance(host, str) else "127.0.0.1"
    port_text = environ.get("PORT", "").strip()
    if port_text.isdigit():
        port, source = int(port_text), "PORT"
    elif isinstance(server.get("port"), int):
        port, source = int(server["port"]), "server.port"
    else:
        port, source = DEFAULT_PORT, "the default port"
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/reload", source


def _answer(request: urllib.request.Request) -> tuple[int, dict[str, Any]]:
    # No proxy: the bot is on this machine, whatever HTTP_PROXY says.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=TIMEOUT_SECONDS) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        try:
            body = json.loads(exc.read() or b"{}")
        except ValueError:
            body = {}
        return exc.code, body if isinstance(body, dict) else {}


def request_reload(
    config: Path, environ: Mapping[str, str], out: TextIO = sys.stdout, err: TextIO = sys.stderr
) -> int:
    """Ask the bot to reload; print what it did; return the exit status."""
    url, source = reload_url(config, environ)
    headers = {"Content-Type": "application/json"}
    token = environ.get("METRICS_TOKEN", "").strip()
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=b"{}", headers=headers, method="POST")
    where = url.removesuffix("/reload")
    try:
        status, body = _answer(request)
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, OSError) and reason.strerror:
            reason = reason.strerror.lower()
        print(
            f"crypto-helper reload: no bot answers at {where} ({reason}); is crypto-helper run "
            f"running? (its port: {source}; set PORT to the bot's port)",
            file=err,
        )
        return EXIT_FAILED
    except ValueError:
        print(f"crypto-helper reload: {where} does not answer like this bot", file=err)
        return EXIT_FAILED
    return _report(status, body, config, out, err)


def _report(status: int, body: dict[str, Any], config: Path, out: TextIO, err: TextIO) -> int:
    if status in (401, 403):
        print(f"crypto-helper reload: the bot refused: {body.get('error', status)}", file=err)
        return EXIT_FAILED
    if status == 404 or "result" not in body:
        print(
            f"crypto-helper reload: the bot answered {status} without a reload result (an "
            "older version?); send it SIGHUP instead",
            file=err,
        )
        return EXIT_FAILED
    running_config = body.get("config")
    if running_config and Path(running_config).resolve() != config.resolve():
        print(f"note: the bot runs {running_config}, not {config}", file=err)
    for line in body.get("warnings", []):
        print(line, file=err)
    result, running = body["result"], body.get("running")
    if result == "applied":
        print(f"reloaded: set {running} is serving ({body.get('seconds', 0):.2f} s)", file=out)
    elif result == "unchanged":
        print(f"nothing new: set {running} already serves these files", file=out)
    for setting in body.get("restart_needed", []):
        print(f"restart needed to apply {setting}: not applied", file=err)
    if result != "failed":
        return 0
    problems = body.get("problems", [])
    if problems:
        for line in problems:
            print(line, file=err)
        print(f"{len(problems)} problem(s) found; the bot still serves set {running}.", file=err)
        return EXIT_USER_ERROR
    print(
        f"crypto-helper reload: not reloaded ({body.get('error')}); the bot still serves set "
        f"{running} (its log says why)",
        file=err,
    )
    return EXIT_FAILED
