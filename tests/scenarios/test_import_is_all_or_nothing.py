"""Import is all or nothing, streamed in batches: a national-size import killed or refused
near its end writes nothing, and neither does one that meets another writer at its start,
on SQLite and PostgreSQL."""

from __future__ import annotations

import importlib.util
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ledger.application import GrantLedger
from ledger.persistence import store_env
from tests.conftest import PG_URL
from tests.drivers import RUN_GRANTS, Grants
from tests.scenarios.importing import _dump, _pg_admin, assert_clean_exit, run

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture(scope="module")
def big_export(tmp_path_factory) -> Path:
    """An export of about 30 000 events from the national benchmark's generator."""
    spec = importlib.util.spec_from_file_location("national", ROOT / "bench" / "national.py")
    national = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(national)
    folder = tmp_path_factory.mktemp("big")
    app = GrantLedger(env=store_env(str(folder / "big.sqlite")))
    try:
        national.generate(app, decisions=360, bookings=40)
    finally:
        app.close()
    path = folder / "big.jsonl"
    Grants(str(folder / "big.sqlite"))("export", "--output", str(path))
    return path


def _grants_process(db: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", RUN_GRANTS, "--db", db, *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _store_events(db: str) -> int:
    if "://" in db:
        return Grants(db).events()
    if not os.path.exists(db):
        return 0
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT count(*) FROM stored_events").fetchone()[0]
    finally:
        conn.close()


def test_a_killed_import_writes_nothing_and_the_next_one_completes(store, big_export, tmp_path):
    """A ~30 000-event import killed (SIGKILL) while it runs leaves no event; run again, it completes
    within its timeout (PostgreSQL hung at such sizes before) and exports byte for byte."""
    lines = sum(1 for _ in big_export.open("rb"))
    assert lines > 29_000
    victim = _grants_process(store, "import", str(big_export))
    time.sleep(1.5)
    assert victim.poll() is None, victim.communicate()
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)
    assert _store_events(store) == 0
    done = _grants_process(store, "import", str(big_export))
    out, err = done.communicate(timeout=180)
    assert done.returncode == 0, err
    assert out.startswith(f"imported {lines} events")
    back = tmp_path / "back.jsonl"
    Grants(store)("export", "--output", str(back))
    assert back.read_bytes() == big_export.read_bytes()


@pytest.mark.parametrize("target", ["new sqlite", "empty sqlite", "postgres"])
def test_a_bad_line_near_the_end_writes_nothing(request, target, big_export, tmp_path):
    """A wrong type in the third-last line of ~30 000 is refused naming that line, after every
    batch before it was written: the transaction is rolled back and the store is as it was."""
    data = big_export.read_bytes().split(b"\n")
    n = len(data) - 3  # data ends with an empty piece after the last newline
    data[n - 1] = data[n - 1].replace(b'"recorded_by": "bench"', b'"recorded_by": ["bench"]', 1)
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b"\n".join(data))
    if target == "postgres":
        db = request.getfixturevalue("pg_url")
        GrantLedger(env=store_env(db)).close()
    else:
        db = str(tmp_path / "target.sqlite")
        if target == "empty sqlite":
            GrantLedger(env=store_env(db)).close()
    before = _dump(db) if target == "empty sqlite" else None
    result = run(db, "import", str(path))
    assert_clean_exit(result, (2,))
    assert f"line {n}: recorded_by must be text (not ['bench'])" in result.stderr
    if target == "new sqlite":
        assert os.listdir(tmp_path) == ["bad.jsonl"]
    elif target == "empty sqlite":
        assert _dump(db) == before
    else:
        assert _store_events(db) == 0


def test_a_writer_that_commits_during_the_import_start_makes_it_write_nothing(store, source, tmp_path):
    """Another writer holds the store with an uncommitted event while import starts, then commits:
    import is refused (1) or gives up on the busy store (3), and writes nothing of its own."""
    path = tmp_path / "in.jsonl"
    path.write_bytes(source)
    GrantLedger(env=store_env(store)).close()
    if "://" in store:
        import psycopg

        schema = store.split("schema=")[1]
        holder = psycopg.connect(PG_URL)
        holder.execute(f'LOCK TABLE "{schema}".grants_events IN EXCLUSIVE MODE')
        holder.execute(f"INSERT INTO \"{schema}\".grants_events (originator_id, originator_version, topic, state) "
                       "VALUES (gen_random_uuid(), 1, 'rival', 'x')")
    else:
        holder = sqlite3.connect(store, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        holder.execute("INSERT INTO stored_events VALUES ('rival', 1, 'rival', x'78')")
    importer = _grants_process(store, "import", str(path))
    time.sleep(1.5)
    holder.commit() if "://" in store else holder.execute("COMMIT")
    holder.close()
    out, err = importer.communicate(timeout=60)
    assert importer.returncode in (1, 3), (out, err)
    assert err.startswith("error: ") and "Traceback" not in err
    if "://" in store:
        admin = _pg_admin()
        assert admin.execute(f'SELECT topic FROM "{schema}".grants_events').fetchall() == [("rival",)]
        admin.close()
    else:
        conn = sqlite3.connect(store)
        assert conn.execute("SELECT topic FROM stored_events").fetchall() == [("rival",)]
        conn.close()
