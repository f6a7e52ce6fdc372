"""The journal imports Alembic and SQLAlchemy only when there is a migration to apply
(engine/journal/migrate.py): the newest revision read from the files is Alembic's, and a
start on a database at it leaves both unimported."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from engine.journal.migrate import head_revision, shipped_head

ROOT = Path(__file__).resolve().parents[3]


def test_the_shipped_head_read_without_alembic_is_alembics() -> None:
    assert shipped_head() == head_revision()


def revision(folder: Path, name: str, revision: str, down: str | None) -> None:
    (folder / f"{name}.py").write_text(
        f'"""{name}"""\n\nrevision = {revision!r}\ndown_revision = {down!r}\n', encoding="utf-8"
    )


def test_a_straight_line_of_revisions_has_its_last_as_head(tmp_path: Path) -> None:
    (tmp_path / "__init__.py").write_text("", encoding="utf-8")
    revision(tmp_path, "0001_a", "0001", None)
    revision(tmp_path, "0002_b", "0002", "0001")
    revision(tmp_path, "0003_c", "0003", "0002")
    assert shipped_head(tmp_path) == "0003"


@pytest.mark.parametrize(
    "files",
    [
        # two heads: a branch
        [("0001_a", "0001", None), ("0002_b", "0002", "0001"), ("0003_c", "0003", "0001")],
        # two roots
        [("0001_a", "0001", None), ("0002_b", "0002", None)],
    ],
    ids=["branch", "two-roots"],
)
def test_revisions_that_are_no_straight_line_leave_it_to_alembic(
    tmp_path: Path, files: list[tuple[str, str, str | None]]
) -> None:
    for name, rev, down in files:
        revision(tmp_path, name, rev, down)
    assert shipped_head(tmp_path) is None


def test_a_revision_written_otherwise_leaves_it_to_alembic(tmp_path: Path) -> None:
    revision(tmp_path, "0001_a", "0001", None)
    (tmp_path / "0002_b.py").write_text(
        'revision: str = "0002"\ndown_revision: str | None = "0001"\n', encoding="utf-8"
    )
    assert shipped_head(tmp_path) is None


@pytest.mark.slow  # two interpreters
def test_a_start_at_the_newest_revision_imports_neither_alembic_nor_sqlalchemy(
    tmp_path: Path,
) -> None:
    code = textwrap.dedent(
        f"""
        import asyncio, sys
        from pathlib import Path
        from engine.journal.store import JournalStore
        from engine.journal.url import database_target

        async def main():
            store = JournalStore(database_target(None, Path({str(tmp_path)!r})))
            try:
                print(*await store.upgrade(), "alembic" in sys.modules, "sqlalchemy" in sys.modules)
            finally:
                await store.close()

        asyncio.run(main())
        """
    )
    runs = [
        subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.split()
        for _ in range(2)
    ]
    head = head_revision()
    assert runs == [["None", head, "True", "True"], [head, head, "False", "False"]]
