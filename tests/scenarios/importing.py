"""What the import tests share (test_import_*.py): `grants` run in-process as typed, the
check of a clean exit, an export's bytes shown short, an SQLite dump, PostgreSQL's admin
connection. The export they import is the `source` fixture (conftest.py)."""

from __future__ import annotations

import sqlite3

import pytest
from click.testing import CliRunner

from commands.cli import cli
from tests.conftest import PG_URL


def run(db: str, *args: str):
    """`grants` in-process, as typed; never lets an exception through unseen."""
    return CliRunner().invoke(cli, ["--db", db, "--user", "fuzz", *args], catch_exceptions=True)


def assert_clean_exit(result, codes: tuple[int, ...]) -> None:
    """An exit code of cli.md, no traceback, and on failure one `error:` line."""
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{type(result.exception).__name__}: {result.exception}")
    assert "Traceback" not in result.output
    assert result.exit_code in codes, (result.exit_code, result.stdout, result.stderr)
    if result.exit_code:
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr


class Export(bytes):
    """An export file's bytes, shown short in a failure report."""

    def __repr__(self) -> str:
        return f"<export of {len(self.splitlines())} lines>"


def _dump(db: str) -> list[str]:
    conn = sqlite3.connect(db)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def _pg_admin():
    try:
        import psycopg

        return psycopg.connect(PG_URL, autocommit=True, connect_timeout=3)
    except Exception as e:  # no server: the pg_url fixture says why
        pytest.skip(f"no PostgreSQL at {PG_URL} ({type(e).__name__})")
