"""Foreign and mistyped stores are left alone; text arguments are one line of printable text
(issue 7, §3 and the last point of §4)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from commands.cli import cli
from ledger.application import GrantLedger, open_ledger
from ledger.persistence import store_env
from ledger.errors import Malformed
from ledger.values import text_fault
from tests.conftest import PG_URL
from tests.jamtland import define, G
from tests.drivers import Grants

from tests.drivers import RUN_GRANTS  # noqa: E402
ROOT = Path(__file__).parent.parent.parent

DEFINE = ["grant", "define", "g", "--name", "G", "--years", "2018", "--purpose", "a=b"]
DECIDE = ["decide", "g", "--region", "23", "--decision", "D-1", "--decided-by", "Anna", "--on",
          "2018-01-01", "--area", "a", "--activity", "b", "--purpose", "a", "--amount", "2018=1"]
COMMANDS = {
    "balance": ["balance", "g"],
    "define": DEFINE,
    "decide": DECIDE,
    "verify": ["verify"],
    "export": ["export"],
    "rebuild": ["rebuild"],
    "demo": ["demo"],
}


def run(db: str, *args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(cli, ["--db", db, "--user", "anna", *args], env=env)


def one_error(result, code: int, *phrases: str) -> str:
    """The run failed with ``code`` and one error line holding every phrase."""
    lines = result.stderr.splitlines()
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)
    for phrase in phrases:
        assert phrase in lines[0], lines[0]
    return lines[0]


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file in the folder and its bytes."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


# ----------------------------------------------------------------------------- SQLite files

def other_apps_database(path: Path, wal: bool) -> None:
    import sqlite3

    conn = sqlite3.connect(path)
    if wal:
        conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("INSERT INTO customers (name) VALUES ('Kund AB')")
    conn.commit()
    conn.close()


@pytest.mark.parametrize("wal", [False, True], ids=["rollback-journal", "wal"])
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_another_apps_sqlite_database_is_left_byte_for_byte(tmp_path, wal, command):
    """A query or a recording command on another application's SQLite database exits 2 with
    one line and leaves the folder byte-for-byte as it was (no tables, no side files)."""
    path = tmp_path / "other.sqlite"
    other_apps_database(path, wal)
    before = snapshot(tmp_path)
    one_error(run(str(path), *COMMANDS[command]), 2, "is not a grants ledger", "without the ledger's event table")
    assert snapshot(tmp_path) == before


def jpeg() -> bytes:
    return bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffdb004300") + bytes(range(256)) * 4


@pytest.mark.parametrize("content, phrase", [
    (b"", "is an empty file"),
    (b"Region,amount\n23,100\n" * 50, "is not an SQLite database"),
    (jpeg(), "is not an SQLite database"),
    (b"SQLite format 3\x00" + b"\xff" * 200, "not a readable SQLite database"),
])
def test_files_that_are_not_databases_are_refused_and_kept(tmp_path, content, phrase):
    """An empty file, a text file, a JPEG and a damaged SQLite header are refused (exit 2)
    by queries and recording commands alike, and not one byte changes."""
    path = tmp_path / "ledger.sqlite"
    path.write_bytes(content)
    for command in ("balance", "define", "demo"):
        one_error(run(str(path), *COMMANDS[command]), 2, "is not a grants ledger", phrase)
        assert snapshot(tmp_path) == {"ledger.sqlite": content}


def test_a_folder_is_not_a_ledger(tmp_path):
    """A --db that names a folder is refused and the folder stays empty."""
    one_error(run(str(tmp_path), *DEFINE), 2, "is a folder")
    one_error(run(str(tmp_path), "balance", "g"), 2, "is a folder")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("schema, phrase", [
    ("CREATE TABLE stored_events (originator_id TEXT, originator_version INTEGER, topic TEXT, state BLOB);"
     "INSERT INTO stored_events VALUES ('a', 1, 'shop:Order.Created', x'00')", "events of another application"),
    ("CREATE TABLE stored_events (id INTEGER, body TEXT)", "is not the ledger's"),
])
def test_another_event_store_is_not_a_ledger(tmp_path, schema, phrase):
    """An SQLite file with a table of the ledger's name but another application's events,
    or other columns, is refused and left as it was."""
    import sqlite3

    path = tmp_path / "events.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript(schema)
    conn.close()
    before = snapshot(tmp_path)
    for command in ("balance", "define"):
        one_error(run(str(path), *COMMANDS[command]), 2, "is not a grants ledger", phrase)
    assert snapshot(tmp_path) == before


def test_a_ledger_is_still_a_ledger(tmp_path):
    """A ledger file, written by the ledger or by eventsourcing directly, opens as before."""
    path = str(tmp_path / "l.sqlite")
    GrantLedger(env=store_env(path)).close()  # the bare event table, no events yet
    assert run(path, *DEFINE).exit_code == 0
    assert run(path, "balance", "g").exit_code == 0
    assert run(path, "verify").stdout.startswith("verified 1 events")


# ----------------------------------------------------------------------------- no file left behind

@pytest.mark.parametrize("args, code", [
    (DECIDE, 1),                                                                 # unknown grant
    (["report", "g", "--region", "23", "--year", "2018", "--filed-on", "2019-01-01"], 1),  # reads models first
    (["agreement", "sign", "g", "--year", "2018", "--signed-on", "2018-01-01", "--pot", "p=1",
      "--report-due", "2019-01-01"], 1),
    (["spend", "g", "--decision", "D", "--year", "2018", "--amount", "1e6", "--booked-on",
      "2018-01-01", "--object", "1", "--voucher", "V"], 2),
    (["grant", "define", "g", "--name", "a\nb", "--years", "2018", "--purpose", "a=b"], 2),
    (["allocate", "g", "--year", "2018", "--pot", "p", "--table", "missing.csv"], 2),
    (["balance", "g"], 2),
    (["demo", "--on", "2019-02-30"], 2),
])
def test_a_failed_command_on_a_new_path_leaves_no_file(tmp_path, args, code):
    """A refused or malformed command on a path where no ledger was leaves the folder empty:
    no ledger file, no -wal, -shm or -journal, no half-made file."""
    path = tmp_path / "typo.sqlite"
    one_error(run(str(path), *args), code)
    assert list(tmp_path.iterdir()) == []


def test_a_successful_command_on_a_new_path_creates_the_ledger(tmp_path):
    """The first command that records creates the ledger file, and only it."""
    path = tmp_path / "new.sqlite"
    result = run(str(path), *DEFINE)
    assert result.exit_code == 0, result.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["new.sqlite"]
    assert run(str(path), "verify").stdout.startswith("verified 1 events")


def test_a_created_ledger_someone_else_opened_is_kept(tmp_path):
    """The command that created a ledger and failed does not remove it while another
    process has it open; that one records into the same file, which stays."""
    path = str(tmp_path / "shared.sqlite")
    creator = open_ledger(path)
    other = open_ledger(path)
    creator.abandon()
    creator.close()
    assert os.path.exists(path)
    assert other.define_grant("g", "G", 2018, 2018, [["a", "b"]], "", "", "anna")
    other.close()
    assert run(path, "verify").stdout.startswith("verified 1 events")
    alone = open_ledger(str(tmp_path / "alone.sqlite"))
    alone.abandon()
    alone.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shared.sqlite"]


def test_processes_creating_the_same_ledger_at_once(tmp_path):
    """Processes that define the same grant on a new path at once all succeed, while others
    that fail there at the same moment take nothing with them: one ledger, one event."""
    path = str(tmp_path / "race.sqlite")
    argvs = [DEFINE] * 3 + [DECIDE] * 3
    procs = [subprocess.Popen([sys.executable, "-c", RUN_GRANTS, "--db", path, "--user", f"u{n}", *argv],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for n, argv in enumerate(argvs)]
    results = [(p.wait(timeout=60), p.stderr.read()) for p in procs]
    for p in procs:
        p.stdout.close()
        p.stderr.close()
    assert [code for code, _ in results] == [0, 0, 0, 1, 1, 1], results
    assert sorted(os.listdir(tmp_path)) == ["race.sqlite"]
    assert run(path, "verify").stdout.startswith("verified 1 events")


# ----------------------------------------------------------------------------- PostgreSQL

def _pg(pg_url: str, name: str) -> str:
    """The test server's URL with another database (name) — keeps host, port and user."""
    base = PG_URL.rsplit("/", 1)[0]
    return f"{base}/{name}"


def test_postgres_wrong_database_or_user_says_why_at_once(pg_url):
    """A database or a user the server does not know: exit 2 within a second, with the
    server's own reason, not a five-second wait that hides it."""
    missing_db = f"grants_no_such_{uuid.uuid4().hex[:8]}"
    started = time.perf_counter()
    line = one_error(run(_pg(pg_url, missing_db), *DEFINE), 2, "cannot use the store", missing_db,
                     "does not exist")
    assert time.perf_counter() - started < 1.5, line
    stranger = f"nobody_{uuid.uuid4().hex[:8]}"
    url = PG_URL.replace("://", f"://{stranger}@", 1) if "@" not in PG_URL else \
        PG_URL.split("://", 1)[0] + f"://{stranger}@" + PG_URL.split("@", 1)[1]
    started = time.perf_counter()
    one_error(run(url.split("?")[0], "balance", "g"), 2, f'role "{stranger}" does not exist')
    assert time.perf_counter() - started < 1.5


def _tables(pg_url: str) -> set[str]:
    import psycopg

    schema = pg_url.split("schema=", 1)[1]
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        return {name for (name,) in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", [schema])}


def test_postgres_schema_with_other_tables_is_refused(pg_url):
    """A schema that holds someone else's tables and no ledger: queries and recording
    commands exit 2, and no table is created beside theirs."""
    import psycopg

    schema = pg_url.split("schema=", 1)[1]
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'CREATE TABLE "{schema}".customers (id int)')
    for command in ("define", "balance", "verify"):
        one_error(run(pg_url, *COMMANDS[command]), 2, "is not a grants ledger", "1 other table")
    assert _tables(pg_url) == {"customers"}


def test_postgres_empty_schema_is_a_new_ledger_but_queries_create_nothing(pg_url):
    """On an empty schema a query is refused (no ledger yet) and creates no table; the first
    recording command makes it a ledger."""
    one_error(run(pg_url, "balance", "g"), 2, "no ledger at")
    assert _tables(pg_url) == set()
    assert run(pg_url, *DEFINE).exit_code == 0
    assert "grants_events" in _tables(pg_url)
    assert run(pg_url, "verify").stdout.startswith("verified 1 events")


# ----------------------------------------------------------------------------- text arguments

@pytest.mark.parametrize("text", ["a\nb", "a\tb", "a\rb", "\x00", "x\x7f", "x\x85", "x\x9b", "\udcff",
                                  "x\ud800", "\u202eevil", "a\u2028b", "a\u2029b", "\ufeffx", "\u200bx",
                                  "\ue000", "\ufffe"])
def test_text_that_is_not_one_printable_line_is_refused(text):
    """Control characters (tab and newline included), NUL, DEL, C1, lone surrogates, bidi
    overrides, line separators, invisible and private-use characters are refused."""
    assert text_fault(text)


@pytest.mark.parametrize("text", ["Anna Berg", "Jämtland Härjedalen", "8\u00a0357\u202f305", "Ørsted – 5 %",
                                  "👩\u200d💻", "مرحبا", "日本語", "a\u3000b", ""])
def test_text_of_every_script_is_accepted(text):
    """Letters of any script, every kind of space, emoji sequences (with the zero-width
    joiner) and the empty string are text."""
    assert text_fault(text) is None


def _commands(group: click.Group, path: list[str]):
    ctx = click.Context(group)
    for name in sorted(group.list_commands(ctx)):  # the commands not imported yet too
        command = group.get_command(ctx, name)
        if isinstance(command, click.Group):
            yield from _commands(command, path + [name])
        else:
            yield path + [name], command


def test_every_option_of_every_command_refuses_a_newline_and_names_itself(tmp_path):
    """Each option and argument that takes a value, of every command and of grants itself,
    refuses a value with a newline (exit 2, one line naming it), before any store is
    opened: no option can be forgotten."""
    db = str(tmp_path / "none.sqlite")
    checked = 0
    for option in cli.params:
        if option.is_flag or isinstance(option.type, click.Choice):  # --format, --csv-dialect: click refuses
            continue
        others = [] if option.name == "db" else ["--db", db]
        result = CliRunner().invoke(cli, [*others, option.opts[0], "x\ny", "balance", "g"])
        one_error(result, 2, f"'{option.opts[0]}'", "U+000A")
        checked += 1
    for path, command in _commands(cli, []):
        for param in command.params:
            if getattr(param, "is_flag", False) or param.name in ("help",) or \
                    isinstance(param.type, click.Choice):
                continue
            if isinstance(param, click.Argument):  # the arguments before it valid (`show decision GRANT ID`)
                before = [p for p in command.params[:command.params.index(param)] if isinstance(p, click.Argument)]
                argv, name = path + ["g"] * len(before) + ["x\ny"], param.human_readable_name
            else:
                argv, name = path + [param.opts[0], "x\ny"], param.opts[0]
            result = CliRunner().invoke(cli, ["--db", db, *argv])
            numeric = isinstance(param.type, click.types._NumberParamTypeBase)  # click's own message
            one_error(result, 2, f"'{name}'", *([] if numeric else ["U+000A"]))
            checked += 1
    assert checked > 60
    assert list(tmp_path.iterdir()) == []


def test_a_newline_in_user_cannot_spoof_history(tmp_path):
    """A --user (or GRANTS_USER) with a newline, which would print a false row in history
    and audit tables, is refused with exit 2 and records nothing."""
    grants = Grants(str(tmp_path / "l.sqlite"))
    define(grants)
    before = grants.events()
    spoof = "eve\n  999  2018-01-01 00:00:00  anna      grant-defined"
    one_error(CliRunner().invoke(cli, ["--db", grants.db, "--user", spoof, *DEFINE]), 2, "'--user'", "U+000A")
    one_error(CliRunner().invoke(cli, ["--db", grants.db, *DEFINE], env={"GRANTS_USER": spoof}), 2, "'--user'")
    assert grants.events() == before
    assert "eve" not in grants("history", G).stdout


def test_bytes_that_are_not_utf8_in_a_real_process(tmp_path):
    """Undecodable bytes in argv (as a shell passes them) are exit 2 with one line naming
    the option and the byte, from a real `grants` process."""
    db = str(tmp_path / "l.sqlite")
    argv = [sys.executable.encode(), b"-c", RUN_GRANTS.encode(), b"--db", db.encode(), b"--user", b"anna",
            b"grant", b"define", b"g", b"--name", b"Sm\xe5land", b"--years", b"2018", b"--purpose", b"a=b"]
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, timeout=60)
    err = proc.stderr.decode("utf-8")
    assert proc.returncode == 2 and err.count("\n") == 1, err
    assert err.startswith("error: ") and "'--name'" in err and "0xE5" in err, err
    assert not os.path.exists(db)


def test_a_db_path_that_is_an_sqlite_uri_is_a_file_name(tmp_path, monkeypatch):
    """`--db file:x` names a file called file:x (never an SQLite URI), and an in-memory
    database, which keeps nothing, is refused."""
    monkeypatch.chdir(tmp_path)
    assert run("file:x.sqlite", *DEFINE).exit_code == 0
    assert (tmp_path / "file:x.sqlite").exists() and not (tmp_path / "x.sqlite").exists()
    with pytest.raises(Malformed):
        store_env(":memory:")
