"""The Dockerfile and railway.json refer to things that exist (no Docker engine here)."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")


def instructions(name: str) -> list[str]:
    joined = DOCKERFILE.replace("\\\n", " ")
    return [
        line.split(None, 1)[1]
        for line in joined.splitlines()
        if line.strip().upper().startswith(name + " ")
    ]


def test_multi_stage_with_dependencies_before_code() -> None:
    stages = instructions("FROM")
    assert len(stages) >= 2
    copies = instructions("COPY")
    first_code = next(i for i, c in enumerate(copies) if c.startswith("engine"))
    assert copies.index("pyproject.toml README.md ./") < first_code


def test_every_copied_path_exists() -> None:
    for copy in instructions("COPY"):
        if copy.startswith("--from"):
            continue
        *sources, _dest = copy.split()
        for source in sources:
            assert (ROOT / source).exists(), source


def test_runs_as_non_root_the_console_script() -> None:
    users = instructions("USER")
    assert users and users[-1] not in ("root", "0")
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    cmd = json.loads(instructions("CMD")[-1])
    assert cmd[0] in scripts and cmd[1] == "run"


def test_healthcheck_and_railway_use_the_live_endpoint() -> None:
    health = instructions("HEALTHCHECK")[-1]
    assert re.search(r"/health/live", health)
    railway = json.loads((ROOT / "railway.json").read_text())
    assert railway["deploy"]["healthcheckPath"] == "/health/live"
    assert railway["deploy"]["restartPolicyType"] == "ON_FAILURE"
    assert railway["deploy"]["startCommand"] == "crypto-helper run"
    app = (ROOT / "engine" / "app.py").read_text()
    assert '"/health/live"' in app or "setup_health_routes" in app
