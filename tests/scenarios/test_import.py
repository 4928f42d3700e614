"""Import: every line type-checked, all or nothing, streamed in batches, on SQLite and PostgreSQL."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from commands.cli import cli
from ledger.application import GrantLedger
from ledger.persistence import store_env
from tests.conftest import PG_URL
from tests.drivers import Grants
from tests.scenarios.test_transfer import history_with_a_sealed_report

ROOT = Path(__file__).resolve().parent.parent.parent
from tests.drivers import RUN_GRANTS  # noqa: E402
FUZZ = int(os.environ.get("GRANTS_FUZZ_EXAMPLES", "100"))  # cases on SQLite; a quarter as many on PostgreSQL


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


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Export:
    """A real export of a small ledger: decisions, a booking reversed, an amendment, a sealed report."""
    folder = tmp_path_factory.mktemp("source")
    grants = Grants(str(folder / "source.sqlite"))
    history_with_a_sealed_report(grants)
    grants("export", "--output", str(folder / "source.jsonl"))
    return Export((folder / "source.jsonl").read_bytes())


# --------------------------------------------------------------------------- mutations

NASTY = [  # raw JSON put in place of a value
    "null", "true", "false", "[]", "{}", "0", "-1", "1", "1.5", "1e400", "-1e400", "1e2", "Infinity",
    "-Infinity", "NaN", str(2 ** 63), str(2 ** 70), "-" + str(10 ** 17), "9" * 5000, '"1"', '""',
    '" "', '"\\ud800"', '"a\\udfffb"', '"a\\u0000b"', '"\\u0007"', '"x\\ny"', '"\\u001b[31mred"',
    '"\\u2028"', '"2018-02-30"', '"2018-1-1"', '"20180101"', '"2018-01-01T00:00:00"',
    '"2018-W01-1"', '"2026-11-23T20:23:06"', '"2026-11-23 20:23:06+00:00"', '"2026-11-23T20:23:06Z"',
    '"99"', '"23"', '"Jämtland"', '"00000000-0000-0000-0000-000000000000"',
    '"{2a2ea59c-f32e-5641-9bbe-315b217f0857}"', '"evil:Thing"', '"os:system"',
    '"grants:Grant"', '"grants:Decision.Spent/v1"', '"spent"', "[[\"a\", 1]]", "[1, 2, 3]",
    '{"a": 1}', "[" * 200_000 + "]" * 200_000, '"' + "x" * 300 + '"',
]
PLACEHOLDER = "@@nasty@@"


def _paths(node, path=()):
    yield path
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, path + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, path + (i,))


def _get(node, path):
    for step in path:
        node = node[step]
    return node


def _tweak(value, draw):
    """A near miss of the same type: what only the rules can refuse."""
    if isinstance(value, bool) or value is None:
        return not value
    if isinstance(value, int):
        return draw(st.sampled_from([value + 1, value - 1, value * 10, -value, 0]))
    if isinstance(value, str):
        return draw(st.sampled_from([value + "x", value[:-1], value.upper(), value.replace("-", "/")]))
    if isinstance(value, list):
        return value[:-1] if value else [value]
    if isinstance(value, dict):
        return {**value, "extra": 1}
    return [value]  # a float (from an earlier mutation) becomes a list


def mutate_field(draw, lines: list[bytes]) -> list[bytes]:
    i = draw(st.integers(0, len(lines) - 1))
    try:
        record = json.loads(lines[i])
    except (ValueError, RecursionError):
        return lines
    paths = list(_paths(record))[1:]
    if not paths:
        return lines
    path = draw(st.sampled_from(paths))
    parent, key = _get(record, path[:-1]), path[-1]
    how = draw(st.sampled_from(["nasty", "tweak", "delete", "add"]))
    raw = None
    if how == "nasty":
        parent[key], raw = PLACEHOLDER, draw(st.sampled_from(NASTY))
    elif how == "tweak":
        parent[key] = _tweak(parent[key], draw)
    elif how == "delete":
        del parent[key]
    elif isinstance(parent, dict):
        parent[draw(st.sampled_from(["extra", "timestamp", "id", "__class__"]))] = 1
    else:
        parent.append(parent[key])
    text = json.dumps(record, ensure_ascii=False)
    if raw is not None:
        text = text.replace(f'"{PLACEHOLDER}"', raw)
    return lines[:i] + [text.encode("utf-8", "surrogatepass") + b"\n"] + lines[i + 1:]


def renumber(draw, lines: list[bytes]) -> list[bytes]:
    """Positions 1, 2, 3... again, so deletions and swaps reach the rules."""
    out = []
    for n, line in enumerate(lines, start=1):
        try:
            record = json.loads(line)
            record["position"] = n
            out.append(json.dumps(record, ensure_ascii=False).encode() + b"\n")
        except (ValueError, TypeError, UnicodeEncodeError, RecursionError):
            out.append(line)
    return out


def delete(draw, lines):
    i = draw(st.integers(0, len(lines) - 1))
    return lines[:i] + lines[i + 1:]


def duplicate(draw, lines):
    i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines)))
    return lines[:j] + [lines[i]] + lines[j:]


def swap(draw, lines):
    i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
    out = list(lines)
    out[i], out[j] = out[j], out[i]
    return out


def garbage(draw, lines):
    i = draw(st.integers(0, len(lines)))
    junk = draw(st.sampled_from([b"", b"{", b"\xff\xfe", b"\xed\xa0\x80", b"\x00", b"[" * 200_000,
                                 b"\xef\xbb\xbf" + lines[0].rstrip(b"\n"), b"null", b"[]", b'"x"', b"1e400"])
                 | st.binary(max_size=30))
    return lines[:i] + [junk + b"\n"] + lines[i:]


def flip(draw, lines):
    i = draw(st.integers(0, len(lines) - 1))
    line = bytearray(lines[i])
    if not line:
        return lines
    j = draw(st.integers(0, len(line) - 1))
    line[j] ^= draw(st.integers(1, 255))
    return lines[:i] + [bytes(line)] + lines[i + 1:]


def cut(draw, lines):
    whole = b"".join(lines)
    return [whole[:draw(st.integers(1, len(whole) - 1))]] if len(whole) > 1 else lines


def blank_or_crlf(draw, lines):
    i = draw(st.integers(0, len(lines) - 1))
    return lines[:i] + [draw(st.sampled_from([b"\n", lines[i].replace(b"\n", b"\r\n"),
                                               lines[i].replace(b", ", b",")]))] + lines[i + 1:]


ODD_TEXT = st.text(st.characters(codec="utf-8"), max_size=12) | st.sampled_from(
    ["\t", "a\nb", "\u001b[2J", "\u2028", "\u00a0", "ÅÄÖ", "\U0001F600", "'; DROP TABLE x; --", "x" * 5000])


def odd_text_after_the_seal(draw, lines):
    """Free text of the last booking (after the sealed report) set to odd text: what the rules
    allow, so the file is mostly accepted, and must then round-trip."""
    try:
        record = json.loads(lines[-2]) if len(lines) > 1 else None
    except (ValueError, RecursionError):  # an earlier mutation left no JSON there
        return lines
    if not isinstance(record, dict) or record.get("type") != "spent" or not isinstance(record.get("data"), dict):
        return lines
    record["data"][draw(st.sampled_from(["text", "object"]))] = draw(ODD_TEXT)
    return lines[:-2] + [json.dumps(record, ensure_ascii=False).encode("utf-8", "surrogatepass") + b"\n"] + lines[-1:]


OPS = [mutate_field, mutate_field, mutate_field, renumber, delete, duplicate, swap, garbage, flip, cut,
       blank_or_crlf, odd_text_after_the_seal, odd_text_after_the_seal]


@st.composite
def mutated(draw, source: bytes) -> bytes:
    lines = source.splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 3))):
        if lines:
            lines = draw(st.sampled_from(OPS))(draw, lines)
    return b"".join(lines)


# --------------------------------------------------------------------------- the fuzz


def _grant_ids(data: bytes) -> list[str]:
    return [json.loads(line)["data"]["grant_id"] for line in data.splitlines()
            if b'"type": "grant-defined"' in line]


def assert_import_holds(db: str, data: bytes, folder: str, unchanged) -> int:
    """Import ``data`` into ``db``: 0 or 2, never a traceback; refused leaves ``unchanged()``
    true; accepted is queryable, rebuildable, verifiable and exports byte for byte."""
    path = os.path.join(folder, "in.jsonl")
    with open(path, "wb") as f:
        f.write(data)
    result = run(db, "import", path)
    assert_clean_exit(result, (0, 2))
    if result.exit_code:
        assert re.search(r"\bline \d+", result.stderr) or (not data and "holds no events" in result.stderr), \
            result.stderr
        assert unchanged(), "a refused import changed the store"
        event("refused: " + re.sub(r"[0-9]+|'.*'|\(.*\)", "#", result.stderr.split(": line ", 1)[-1])[:60])
        return 2
    event("accepted")
    for grant_id in _grant_ids(data):
        for args in (["balance", grant_id], ["commitments", grant_id], ["history", grant_id],
                     ["compliance", grant_id, "--year", "2018"], ["audit", grant_id, "--year", "2018"]):
            assert_clean_exit(run(db, *args), (0,))
    assert_clean_exit(run(db, "rebuild"), (0,))
    assert_clean_exit(run(db, "verify"), (0,))
    back = os.path.join(folder, "back.jsonl")
    assert_clean_exit(run(db, "export", "--output", back), (0,))
    assert Path(back).read_bytes() == data
    return 0


def _dump(db: str) -> list[str]:
    conn = sqlite3.connect(db)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


@settings(max_examples=FUZZ, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_fuzzed_files_import_whole_or_not_at_all_on_sqlite(source, data):
    """Mutated exports into SQLite (a new path or an empty ledger): exit 0 or 2 with one error line
    naming the line, never a traceback; refused leaves no file or the same dump; accepted round-trips."""
    mutated_file = data.draw(mutated(source))
    folder = tempfile.mkdtemp()
    try:
        db = os.path.join(folder, "target.sqlite")
        if data.draw(st.booleans()):
            assert_import_holds(db, mutated_file, folder,
                                lambda: not any(n.startswith("target.sqlite") for n in os.listdir(folder)))
        else:
            GrantLedger(env=store_env(db)).close()
            before = _dump(db)
            assert_import_holds(db, mutated_file, folder, lambda: _dump(db) == before)
    finally:
        shutil.rmtree(folder)


def _pg_admin():
    try:
        import psycopg

        return psycopg.connect(PG_URL, autocommit=True, connect_timeout=3)
    except Exception as e:  # no server: the pg_url fixture says why
        pytest.skip(f"no PostgreSQL at {PG_URL} ({type(e).__name__})")


def _rows(admin, schema: str, table: str = "grants_events") -> int:
    return admin.execute(f'SELECT count(*) FROM "{schema}".{table}').fetchone()[0]


@settings(max_examples=max(FUZZ // 4, 5), deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_fuzzed_files_import_whole_or_not_at_all_on_postgres(pg_url, source, data):
    """The same on PostgreSQL: a refused import leaves no row behind; an accepted one round-trips."""
    mutated_file = data.draw(mutated(source))
    admin = _pg_admin()
    schema = f"grants_fuzz_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE SCHEMA "{schema}"')
    folder = tempfile.mkdtemp()
    try:
        db = f"{PG_URL}?schema={schema}"
        GrantLedger(env=store_env(db)).close()
        assert_import_holds(db, mutated_file, folder, lambda: _rows(admin, schema) == 0)
    finally:
        admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        admin.close()
        shutil.rmtree(folder)


@pytest.mark.parametrize("line, message", [
    ('"position": 1,', "line 1: position must be a whole number (not '1')"),
    ('"recorded_by": "anna"', "line 1: recorded_by must be plain text without control characters"),
    ('"first_year": 2016', "line 1: holds the number 1e400, but every number of an event is a whole number"),
    ('"first_year": 2016,', "line 1: data.first_year must be a year 1900-2199 (not 2**70)"),
    ('"name": NUL', "line 1: data.name holds a NUL character"),
    ('"name": surrogate', "line 1: data.name holds a lone surrogate (not Unicode text)"),
    ('"recorded_at"', "line 1: recorded_at '2018-01-01T10:00:00+01:00' is not an ISO 8601 time in UTC"),
    ('"originator_id"', "line 1: originator_id 'urn:uuid:2a2ea59c-f32e-5641-9bbe-315b217f0857' is not a UUID"),
])
def test_a_wrong_value_is_named_with_its_line_and_field(source, tmp_path, line, message):
    """The error line names the line number and the field, and says what the field must be."""
    first, rest = source.split(b"\n", 1)
    bad = {
        '"position": 1,': first.replace(b'"position": 1,', b'"position": "1",'),
        '"recorded_by": "anna"': first.replace(b'"recorded_by": "anna"', b'"recorded_by": "an\\nna"', 1),
        '"first_year": 2016': first.replace(b'"first_year": 2016', b'"first_year": 1e400'),
        '"first_year": 2016,': first.replace(b'"first_year": 2016', b'"first_year": %d' % 2 ** 70),
        '"name": NUL': first.replace(b'"name": "Professions', b'"name": "Professions\\u0000'),
        '"name": surrogate': first.replace(b'"name": "Professions', b'"name": "Professions\\ud800'),
        '"recorded_at"': re.sub(rb'"recorded_at": "[^"]*"', b'"recorded_at": "2018-01-01T10:00:00+01:00"', first),
        '"originator_id"': first.replace(b'"originator_id": "', b'"originator_id": "urn:uuid:'),
    }[line]
    path = tmp_path / "bad.jsonl"
    path.write_bytes(bad + b"\n" + rest)
    result = run(str(tmp_path / "t.sqlite"), "import", str(path))
    assert_clean_exit(result, (2,))
    assert message.split(" (not")[0] in result.stderr, result.stderr


# --------------------------------------------------------------------------- national size, all or nothing


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


def test_positions_are_kept_gaps_only_on_postgres(source, pg_url, tmp_path):
    """A history whose positions skip numbers (as PostgreSQL's do) keeps them on PostgreSQL and
    exports identically; SQLite, which numbers without gaps, refuses it naming the line."""
    lines = source.splitlines(keepends=True)
    gapped = []
    for n, line in enumerate(lines, start=1):
        record = json.loads(line)
        record["position"] = n if n <= 10 else n + 5
        if record["type"] == "report-filed":  # its seal names the position its figures are as of
            record["data"]["position"] += 5
        gapped.append(json.dumps(record, ensure_ascii=False).encode() + b"\n")
    path = tmp_path / "gapped.jsonl"
    path.write_bytes(b"".join(gapped))
    refused = run(str(tmp_path / "t.sqlite"), "import", str(path))
    assert_clean_exit(refused, (2,))
    assert "line 11: inconsistent at position 16 (" in refused.stderr and "positions 11-15 are missing" in refused.stderr
    assert_clean_exit(run(pg_url, "import", str(path)), (0,))
    assert_clean_exit(run(pg_url, "verify"), (0,))
    assert_clean_exit(run(pg_url, "export", "--output", str(tmp_path / "back.jsonl")), (0,))
    assert (tmp_path / "back.jsonl").read_bytes() == path.read_bytes()


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
