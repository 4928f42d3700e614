"""Import checks every line: a wrong value is named with its line and field, and positions
are kept as the file has them (with gaps only where the store numbers with gaps)."""

from __future__ import annotations

import json
import re

import pytest

from tests.scenarios.importing import assert_clean_exit, run


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
