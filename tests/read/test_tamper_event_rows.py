"""A store that lies is caught: single rows of the event table altered, deleted, moved,
reordered or inserted behind the ledger's back, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest

from tests.drivers import Grants
from tests.jamtland import G
from tests.read.tampering import Raw, _history, grants_cli

QUERIES = (["balance", G], ["commitments", G], ["compliance", G, "--on", "2019-03-01"],
           ["audit", G, "--year", "2018", "--on", "2019-03-01"], ["history", G], ["export"])


def _of(raw: Raw, topic_part: str, nth: int = 0) -> tuple:
    return [e for e in raw.events() if topic_part in e[3]][nth]


def delete_a_decision_event(raw: Raw) -> None:
    raw.run("DELETE FROM EVENTS WHERE POS = ?", (_of(raw, "Decision.Amended")[0],))


def delete_the_first_event(raw: Raw) -> None:
    raw.run("DELETE FROM EVENTS WHERE POS = ?", (raw.events()[0][0],))


def delete_the_last_event(raw: Raw) -> None:
    raw.run("DELETE FROM EVENTS WHERE POS = ?", (raw.events()[-1][0],))


def reorder_two_events(raw: Raw) -> None:
    """The booking and its reversal change places (their versions swapped)."""
    spent, reversed_ = _of(raw, "Decision.Spent"), _of(raw, "Decision.Reversed")
    raw.run("UPDATE EVENTS SET originator_version = -1 WHERE POS = ?", (spent[0],))
    raw.run("UPDATE EVENTS SET originator_version = ? WHERE POS = ?", (spent[2], reversed_[0]))
    raw.run("UPDATE EVENTS SET originator_version = ? WHERE POS = ?", (reversed_[2], spent[0]))


def move_an_event_to_the_end(raw: Raw) -> None:
    position = _of(raw, "RegionYear.Reserved")[0]
    last = raw.events()[-1][0]
    raw.run("UPDATE EVENTS SET POS = ? WHERE POS = ?", (last + 1, position))


def swap_a_topic_for_another_event(raw: Raw) -> None:
    raw.run("UPDATE EVENTS SET topic = ? WHERE POS = ?",
            ("grants:RegionYear.Repaid/v1", _of(raw, "RegionYear.Reserved")[0]))


def swap_a_topic_for_a_module(raw: Raw) -> None:
    raw.run("UPDATE EVENTS SET topic = ? WHERE POS = ?", ("os:system", _of(raw, "Decision.Spent")[0]))


def swap_a_creation_topic(raw: Raw) -> None:
    """A decision's creation names another aggregate class to create."""
    position, _, _, _, state = _of(raw, "Decision.Decided", 2)
    data = json.loads(bytes(state))
    data["originator_topic"] = "subprocess:Popen"
    raw.run("UPDATE EVENTS SET state = ? WHERE POS = ?", (json.dumps(data).encode(), position))


def drop_a_field(raw: Raw) -> None:
    position, _, _, _, state = _of(raw, "Decision.Spent")
    data = json.loads(bytes(state))
    del data["year"]
    raw.run("UPDATE EVENTS SET state = ? WHERE POS = ?", (json.dumps(data).encode(), position))


def mistype_a_field(raw: Raw) -> None:
    position, _, _, _, state = _of(raw, "RegionYear.Allocated")
    data = json.loads(bytes(state))
    data["amount"] = "835730500"
    raw.run("UPDATE EVENTS SET state = ? WHERE POS = ?", (json.dumps(data).encode(), position))


def garble_a_state(raw: Raw) -> None:
    raw.run("UPDATE EVENTS SET state = ? WHERE POS = ?", (b'{"oops', _of(raw, "Decision.Decided", 4)[0]))


def raise_an_amount(raw: Raw) -> None:
    """An edit that breaks no rule: only a witness can tell."""
    position, _, _, _, state = _of(raw, "Decision.Spent", 1)
    raw.run("UPDATE EVENTS SET state = ? WHERE POS = ?",
            (bytes(state).replace(b'"amount":500000', b'"amount":400000'), position))


def change_a_recorder(raw: Raw) -> None:
    position, _, _, _, state = raw.events()[5]
    raw.run("UPDATE EVENTS SET state = ? WHERE POS = ?",
            (bytes(state).replace(b'"recorded_by":"anna"', b'"recorded_by":"eve"'), position))


def duplicate_an_event(raw: Raw) -> None:
    position, oid, version, topic, state = _of(raw, "Decision.Spent", 1)
    raw.run("INSERT INTO EVENTS (originator_id, originator_version, topic, state) VALUES (?, ?, ?, ?)",
            (oid, version + 1, topic, state))


def forge_a_booking(raw: Raw) -> None:
    """A booking no one recorded, which breaks no rule."""
    position, oid, version, topic, state = _of(raw, "Decision.Spent", 1)
    last = max(e[2] for e in raw.events() if e[1] == oid)
    forged = bytes(state).replace(b'"voucher":"V2"', b'"voucher":"V9"').replace(b'"amount":500000', b'"amount":100')
    raw.run("INSERT INTO EVENTS (originator_id, originator_version, topic, state) VALUES (?, ?, ?, ?)",
            (oid, last + 1, topic, forged))


def move_to_another_aggregate(raw: Raw) -> None:
    """A booking is moved onto another decision."""
    position = _of(raw, "Decision.Spent", 1)[0]
    other = _of(raw, "Decision.Decided", 5)
    raw.run("UPDATE EVENTS SET originator_id = ?, originator_version = 2 WHERE POS = ?", (other[1], position))


TAMPERS = [delete_a_decision_event, delete_the_first_event, delete_the_last_event, reorder_two_events,
           move_an_event_to_the_end, swap_a_topic_for_another_event, swap_a_topic_for_a_module,
           swap_a_creation_topic, drop_a_field, mistype_a_field, garble_a_state, raise_an_amount,
           change_a_recorder, duplicate_an_event, forge_a_booking, move_to_another_aggregate]


# Tampers whose forged event applies cleanly, so a query's catch-up takes it in before verify sees it.
TAKEN_IN = {forge_a_booking}


def _answers(grants: Grants) -> dict[str, str]:
    return {" ".join(q): grants(*q, fmt="json").stdout for q in QUERIES}


def _one_line_or_truth(grants: Grants, truth: dict[str, str]) -> None:
    """Every query stops with exit 4 in one line, or answers as the untouched history would."""
    for query in QUERIES:
        result = grants.runner.invoke(grants_cli(), ["--db", grants.db, "--format", "json", *query])
        assert result.exit_code in (0, 4), (query, result.output)
        assert "Traceback" not in result.output
        if result.exit_code == 4:
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("error: ") and "position" in lines[0], lines


@pytest.mark.parametrize("tamper", TAMPERS, ids=lambda t: t.__name__)
def test_a_single_altered_event_row_is_caught(tamper, tmp_path):
    """Each single-row alteration of the event table is caught by verify, or by the digest an
    auditor kept; commands meeting it stop with one line naming a position; undoing it needs no repair."""
    grants, digest = _history(str(tmp_path / "ledger.sqlite"))
    truth = _answers(grants)
    raw = Raw(grants.db)
    before = raw.events()
    try:
        tamper(raw)
        plain = grants.runner.invoke(grants_cli(), ["--db", grants.db, "verify"])
        witnessed = grants.runner.invoke(grants_cli(), ["--db", grants.db, "verify", "--digest", digest])
        assert plain.exit_code == 4 or witnessed.exit_code == 4, tamper.__name__
        assert witnessed.exit_code == 4
        for result in (plain, witnessed):
            assert result.exit_code in (0, 4) and "Traceback" not in result.output
        _one_line_or_truth(grants, truth)
    finally:
        raw.run("DELETE FROM EVENTS")
        for row in before:
            raw.run("INSERT INTO EVENTS (POS, originator_id, originator_version, topic, state) "
                    "VALUES (?, ?, ?, ?, ?)", row)
        raw.close()
    if tamper in TAKEN_IN:  # a forged event that applies cleanly was taken into the read models:
        said = grants("balance", G, code=4).stderr  # they say so, and a rebuild frees them
        assert "grants rebuild" in said
        grants("rebuild")
    assert _answers(grants) == truth
    assert "the history holds" in grants("verify", "--digest", digest).stdout


@pytest.mark.parametrize("tamper", [delete_a_decision_event, swap_a_topic_for_a_module, reorder_two_events,
                                    raise_an_amount], ids=lambda t: t.__name__)
def test_a_single_altered_event_row_is_caught_on_postgres(tamper, pg_url):
    """The same on PostgreSQL, whose positions may have gaps: versions, topics and the witness tell."""
    grants, digest = _history(pg_url)
    truth = _answers(grants)
    raw = Raw(pg_url)
    try:
        tamper(raw)
        witnessed = grants.runner.invoke(grants_cli(), ["--db", grants.db, "verify", "--digest", digest])
        assert witnessed.exit_code == 4 and "Traceback" not in witnessed.output
        _one_line_or_truth(grants, truth)
    finally:
        raw.close()


def test_verify_with_a_witness_proves_a_prefix(tmp_path):
    """verify --digest D --position N holds for the digest an audit printed at N, and names the
    position when the store no longer holds that history, or is shorter than it."""
    grants, _ = _history(str(tmp_path / "ledger.sqlite"))
    audit = grants.json("audit", G, "--year", "2018", "--position", "40")
    at = str(audit["position"])  # 40, or the start of the command position 40 falls inside
    out = grants("verify", "--digest", audit["digest"], "--position", at).stdout
    assert f"up to position {at} is exactly the one" in out
    other = grants.json("audit", G, "--year", "2018", "--position", str(int(at) - 1))["digest"]
    err = grants("verify", "--digest", other, "--position", at, code=4).stderr
    assert f"position {at}" in err and "not the witnessed one" in err
    err = grants("verify", "--digest", audit["digest"], "--position", "100000", code=4).stderr
    assert "ends at position" in err
    grants("verify", "--digest", "sha256:xyz", code=2)
    grants("verify", "--position", "4", code=2)
