"""The journal on /health/ready (ok or degraded, never 503 for it) and on /metrics."""

from __future__ import annotations

from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from engine.definitions import load_definitions
from engine.health import create_health_app
from engine.journal.writer import JournalStats
from engine.metrics import BotMetrics
from engine.rates.offline import create_offline_rates

ROOT = Path(__file__).resolve().parents[3]
CONFIG = load_definitions(ROOT / "config.yaml").config


async def reachable() -> bool:
    return True


async def test_ready_and_metrics_show_the_journal() -> None:
    stats = JournalStats(
        "postgresql", written=41, failures=3, dropped=2, waiting=7, last_error="connection refused"
    )
    rates = create_offline_rates(CONFIG)
    await rates.snapshot()
    app = create_health_app(
        rates=rates,
        metrics=BotMetrics(process=False),
        storage_ping=reachable,
        providers={},
        journal=lambda: stats,
    )
    async with TestClient(TestServer(app)) as client:
        ready = await client.get("/health/ready")
        body = await ready.json()
        metrics = await (await client.get("/metrics")).text()
    await rates.close()
    assert ready.status == 200  # the journal being away does not stop quotes
    assert body["journal"] == {
        "status": "degraded",
        "backend": "postgresql",
        "waiting": 7,
        "written": 41,
        "failures": 3,
        "dropped": 2,
        "last_error": "connection refused",
    }
    values = {s.name: s.value for f in text_string_to_metric_families(metrics) for s in f.samples}
    assert values["crypto_helper_journal_rows_written_total"] == 41
    assert values["crypto_helper_journal_write_failures_total"] == 3
    assert values["crypto_helper_journal_rows_dropped_total"] == 2
    assert values["crypto_helper_journal_queue_length"] == 7


async def test_without_a_journal_there_is_no_journal_section() -> None:
    rates = create_offline_rates(CONFIG)
    app = create_health_app(
        rates=rates, metrics=BotMetrics(process=False), storage_ping=reachable, providers={}
    )
    async with TestClient(TestServer(app)) as client:
        body = await (await client.get("/health/ready")).json()
        metrics = await (await client.get("/metrics")).text()
    await rates.close()
    assert body["journal"] is None
    assert "journal" not in metrics
