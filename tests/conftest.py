"""Shared fixtures: a ledger on a fresh SQLite file, and PostgreSQL where one is reachable."""

from __future__ import annotations

import os
import uuid

import pytest
from hypothesis import settings

# In CI every property test runs the same examples each time (a landing never hangs on a
# newly drawn case); on a developer's machine they keep exploring new ones.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

from ledger.application import GrantLedger

from ledger.persistence import store_env
import projections.verify

# Every re-check run in the tests' own process (verify, import) writes its decisions out to its
# scratch file as soon as it holds a few bookings: the path a national ledger takes.
projections.verify.KEEP_BOOKINGS = 3

PG_URL = os.environ.get("GRANTS_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")



@pytest.fixture
def db_path(tmp_path):
    return str(tmp_path / "ledger.sqlite")


@pytest.fixture
def app(db_path):
    ledger = GrantLedger(env=store_env(db_path))
    yield ledger
    ledger.close()


def _postgres_admin():
    """A psycopg connection to the test server, or None with the reason."""
    try:
        import psycopg

        return psycopg.connect(PG_URL, autocommit=True, connect_timeout=3), None
    except Exception as e:  # any failure to connect means: no server here
        return None, f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"


@pytest.fixture
def pg_url():
    """A URL to a fresh, empty schema on the local PostgreSQL, dropped afterwards.

    Skips with the reason on a machine without a server; in CI (CI=true) a missing
    server fails instead, so the PostgreSQL tests can never silently not run there.
    """
    conn, why = _postgres_admin()
    if conn is None:
        message = f"no PostgreSQL at {PG_URL} ({why})"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI must run the PostgreSQL tests")
        pytest.skip(message)
    schema = f"grants_test_{uuid.uuid4().hex[:12]}"
    conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{PG_URL}?schema={schema}"
    finally:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        conn.close()


@pytest.fixture
def grants(tmp_path):
    """`grants` typed against a fresh SQLite ledger (see tests.drivers.Grants)."""
    from tests.drivers import Grants

    return Grants(str(tmp_path / "cli.sqlite"))


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, tmp_path):
    """A store target for scenarios that must hold on both: an SQLite path, then PostgreSQL."""
    if request.param == "sqlite":
        return str(tmp_path / "scenario.sqlite")
    return request.getfixturevalue("pg_url")
