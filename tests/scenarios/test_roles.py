"""PostgreSQL roles: `grants db init`, an append-only event table, recorders the server
authenticated, auditors that only read, and imports that say who loaded them."""

from __future__ import annotations

import datetime
import uuid
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from ledger.application import open_ledger
from ledger.values import Amount
from tests.conftest import PG_URL
from tests.jamtland import G, jamtland
from tests.drivers import Grants


def as_role(url: str, role: str) -> str:
    """The same store, logged in as another role (the test server trusts every login)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{role}@{parts.hostname}:{parts.port or 5432}"))


def schema_of(url: str) -> str:
    return urlsplit(url).query.split("schema=", 1)[1]


@pytest.fixture
def roles(pg_url):
    """A recorder and an auditor login, new for this test and dropped after it."""
    tag = uuid.uuid4().hex[:8]
    names = {"recorder": f"rec_{tag}", "auditor": f"aud_{tag}"}
    admin = psycopg.connect(PG_URL, autocommit=True)
    for name in names.values():
        admin.execute(f'CREATE ROLE "{name}" LOGIN')
    try:
        yield names
    finally:
        for name in names.values():
            admin.execute(f'DROP OWNED BY "{name}"')
            admin.execute(f'DROP ROLE "{name}"')
        admin.close()


@pytest.fixture
def ledger(pg_url, roles):
    """A schema set up by `grants db init` with both roles; the recorder has recorded Jämtland 2018."""
    Grants(pg_url)("db", "init", "--recorder-role", roles["recorder"], "--auditor-role", roles["auditor"])
    recorder = Grants(as_role(pg_url, roles["recorder"]))
    jamtland(recorder)
    return recorder, Grants(as_role(pg_url, roles["auditor"]))


def count(url: str) -> int:
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        return conn.execute(f'SELECT count(*) FROM "{schema_of(url)}".grants_events').fetchone()[0]


def test_event_table_refuses_update_delete_truncate_even_for_its_owner(pg_url, ledger):
    """After db init, UPDATE, DELETE and TRUNCATE of the event table fail for the owner (a superuser) too."""
    before = count(pg_url)
    table = f'"{schema_of(pg_url)}".grants_events'
    with psycopg.connect(PG_URL, autocommit=True) as owner:
        for statement in (f"UPDATE {table} SET topic = topic", f"DELETE FROM {table}", f"TRUNCATE {table}"):
            with pytest.raises(psycopg.Error, match="append-only"):
                owner.execute(statement)
    assert count(pg_url) == before > 0


def test_db_init_twice_is_unchanged_and_a_missing_role_exits_2(pg_url, roles):
    """A second db init with the same roles changes nothing; a role that does not exist exits 2 naming it."""
    admin = Grants(pg_url)
    args = ("db", "init", "--recorder-role", roles["recorder"], "--auditor-role", roles["auditor"])
    assert admin(*args).stdout.startswith("initialised:")
    assert admin(*args).stdout.startswith("unchanged:")
    missing = admin("db", "init", "--auditor-role", "no_such_role_x", code=2)
    assert "no_such_role_x" in missing.stderr


def test_db_init_on_sqlite_creates_the_file_and_refuses_roles(tmp_path):
    """On SQLite db init creates the ledger file; roles given with SQLite exit 2."""
    grants = Grants(str(tmp_path / "new.sqlite"))
    assert "roles do not apply" in grants("db", "init", "--recorder-role", "x", code=2).stderr
    assert not (tmp_path / "new.sqlite").exists()
    assert grants("db", "init").stdout.startswith("created:")
    assert grants("db", "init").stdout.startswith("unchanged:")


def test_auditor_runs_every_query_and_cannot_record(pg_url, ledger):
    """An auditor gets the recorder's answers to every query, audit, verify and export; recording exits 1, writing nothing."""
    recorder, auditor = ledger
    queries = [("balance", G), ("commitments", G), ("compliance", G, "--on", "2019-01-31"),
               ("history", G), ("audit", G, "--year", "2018", "--on", "2019-01-31"), ("export",),
               ("balance", G, "--position", "5"), ("commitments", G, "--as-of", "2030-01-01"),
               ("compliance", G, "--as-of", "2030-01-01"),
               ("audit", G, "--year", "2018", "--position", "7", "--on", "2019-01-31")]
    for query in queries:
        assert auditor(*query).stdout == recorder(*query).stdout, query
    assert "the history holds" in auditor("verify").stdout
    before = count(pg_url)
    refused = auditor("reserve", G, "--region", "23", "--year", "2018", "--amount", "1",
                      "--purpose", "it-admin", "--on", "2018-04-06", "--ref", "R-1", code=1)
    assert refused.stderr.strip() == (f"error: role {urlsplit(auditor.db).username} may not record in "
                                      "this ledger (it is read-only)")
    assert count(pg_url) == before
    assert "read-only" in auditor("rebuild", code=1).stderr
    assert "rebuilt the read models" in recorder("rebuild").stdout


def test_auditor_answers_when_the_read_models_are_behind_without_writing(pg_url, roles, ledger):
    """A recording the read models have not taken in yet shows in the auditor's balance, and the auditor writes nothing."""
    recorder, auditor = ledger
    app = open_ledger(as_role(pg_url, roles["recorder"]))  # records without the CLI's catch-up
    try:
        app.reserve(G, "23", 2018, Amount.kronor(1000), "it-admin", datetime.date(2018, 4, 6),
                    "RES-behind", roles["recorder"])
    finally:
        app.close()
    tracking = f'SELECT position FROM "{schema_of(pg_url)}".grants_rm_tracking'
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        behind = conn.execute(tracking).fetchone()[0]
    [b] = auditor.json("balance", G, "--region", "23", "--year", "2018")
    assert b["reserved"] == "1000.00"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        assert conn.execute(tracking).fetchone()[0] == behind < count(pg_url)


def test_recorded_by_is_the_server_role_with_user_beside_it(pg_url, roles, ledger):
    """On PostgreSQL an event's recorder is the authenticated role; --user only adds a display name."""
    recorder, _ = ledger
    recorder("reserve", G, "--region", "23", "--year", "2018", "--amount", "1", "--purpose", "it-admin", "--ref", "R-1",
             "--on", "2018-04-06", user="Anna Berg")
    rows = recorder.json("history", G)
    assert rows[-1]["recorded_by"] == f"{roles['recorder']} (Anna Berg)"
    assert {r["recorded_by"] for r in rows[:-1]} == {f"{roles['recorder']} (anna)"}


def test_hand_made_insert_in_another_name_is_refused_by_the_server(pg_url, roles, ledger):
    """A recorder writing with his own client cannot claim another recorder, nor register an import into a used ledger."""
    table = f'"{schema_of(pg_url)}".grants_events'
    before = count(pg_url)
    with psycopg.connect(as_role(pg_url, roles["recorder"]).split("?")[0], autocommit=True) as hostile:
        for by in ("postgres", "anna", f"{roles['recorder']}x", None):
            state = ('{"recorded_by": "%s"}' % by if by else "{}").encode()
            with pytest.raises(psycopg.Error, match="may not record"):
                hostile.execute(f"INSERT INTO {table} (originator_id, originator_version, topic, state) "
                                "VALUES (%s, 1, 'grants:Grant.Defined/v1', %s)", [uuid.uuid4(), state])
        with pytest.raises(psycopg.Error, match="empty ledger"):
            hostile.execute(f'INSERT INTO "{schema_of(pg_url)}".grants_imports DEFAULT VALUES')
    assert count(pg_url) == before


def test_import_records_who_imported_and_when(pg_url, roles, ledger, tmp_path):
    """An import as a recorder keeps the file's recorders, and verify names the role that imported it."""
    recorder, auditor = ledger
    exported = tmp_path / "ledger.jsonl"
    recorder("export", "--output", str(exported))
    admin = psycopg.connect(PG_URL, autocommit=True)
    other = f"grants_test_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE SCHEMA "{other}"')
    try:
        target = pg_url.replace(schema_of(pg_url), other)
        Grants(target)("db", "init", "--recorder-role", roles["recorder"], "--auditor-role", roles["auditor"])
        Grants(as_role(target, roles["recorder"]))("import", str(exported))
        again = tmp_path / "again.jsonl"
        Grants(as_role(target, roles["auditor"]))("export", "--output", str(again))
        assert again.read_bytes() == exported.read_bytes()
        report = Grants(as_role(target, roles["auditor"]))("verify").stdout
        assert f"imported by {roles['recorder']} at " in report
        role, at, events = admin.execute(f'SELECT role, at, events FROM "{other}".grants_imports').fetchone()
        assert (role, events) == (roles["recorder"], count(pg_url)) and at is not None
    finally:
        admin.execute(f'DROP SCHEMA "{other}" CASCADE')
        admin.close()
