"""Import fuzz: exports mutated (fields, lines, bytes) are imported whole or not at all, on
SQLite and PostgreSQL: exit 0 or 2 with one error line naming the line, never a traceback;
refused leaves the store as it was; accepted round-trips."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import uuid
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from ledger.application import GrantLedger
from ledger.persistence import store_env
from tests.conftest import PG_URL
from tests.scenarios.importing import _dump, _pg_admin, assert_clean_exit, run

FUZZ = int(os.environ.get("GRANTS_FUZZ_EXAMPLES", "100"))  # cases on SQLite; a quarter as many on PostgreSQL


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
