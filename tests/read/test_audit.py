"""Auditing: time travel by moment and by position, digests, sealed reports, reconciliation."""

from __future__ import annotations

import datetime
import json
import time

from ledger.application import GrantLedger

from ledger.persistence import store_env
from projections.audit import canonical, digest_of, upto
from projections.fold import Entry, entries_of
from tests.jamtland import G, jamtland
from tests.drivers import Grants


def audit_json(grants: Grants, *args: str) -> dict:
    return json.loads(grants("audit", G, "--year", "2018", *args, fmt="json").stdout)


def test_as_of_a_moment_shows_only_what_was_recorded_by_then(grants):
    """Record, wait, record more: as of the moment between, only the first part shows,
    with the digest an audit taken at that moment gave; the position form agrees."""
    jamtland(grants)
    then = audit_json(grants, "--region", "23")
    moment = datetime.datetime.now(datetime.timezone.utc).isoformat()
    time.sleep(0.01)
    grants("reserve", G, "--region", "23", "--year", "2018", "--amount", "2228598",
           "--purpose", "nurse-specialist-education", "--on", "2018-04-06", "--ref", "RES-1")
    grants("spend", G, "--decision", "JH-PM-01", "--year", "2017", "--amount", "1", "--booked-on",
           "2017-12-31", "--object", "9902", "--voucher", "V0", code=1)
    now = audit_json(grants, "--region", "23")
    assert now["digest"] != then["digest"]

    by_moment = audit_json(grants, "--region", "23", "--as-of", moment)
    by_position = audit_json(grants, "--region", "23", "--position", str(then["position"]))
    assert by_moment["digest"] == by_position["digest"] == then["digest"]
    assert by_moment["balances"] == by_position["balances"] == then["balances"]
    assert by_moment["balances"][0]["available"] == "2228598.00"
    assert now["balances"][0]["available"] == "0.00"
    [b] = grants.json("balance", G, "--region", "23", "--year", "2018", "--as-of", moment)
    assert b["reserved"] == "0.00"
    [b] = grants.json("balance", G, "--region", "23", "--year", "2018", "--position", str(then["position"]))
    assert b["reserved"] == "0.00"
    assert grants("commitments", G, "--position", "0").stdout.strip() == "(nothing recorded by then)"
    assert "unknown grant" in grants("commitments", "no-such-grant", "--position", "0", code=1).stderr


def test_as_of_a_date_means_the_end_of_that_day_utc(grants):
    """A bare date replays everything recorded up to the end of that day (UTC)."""
    jamtland(grants)
    today = datetime.datetime.now(datetime.timezone.utc).date()
    yesterday = today - datetime.timedelta(days=1)
    assert grants.json("balance", G, "--as-of", today.isoformat())
    assert grants.json("balance", G, "--as-of", yesterday.isoformat()) == []
    r = grants("balance", G, "--as-of", "2019-02-15T12:00:00", code=2)
    assert "needs an offset" in r.stderr
    grants("balance", G, "--as-of", "15/02/2019", code=2)


def test_a_back_dated_booking_shows_the_report_as_filed_beside_the_year_now(grants):
    """A sealed report keeps its figures; a later back-dated booking shows both versions."""
    jamtland(grants)
    grants("report", G, "--region", "23", "--year", "2018", "--filed-on", "2019-02-14",
           "--covers", "it-admin", "--covers", "competence-use", "--covers", "competence-supply",
           "--patient-units", "--employee-reps")
    clean = audit_json(grants, "--region", "23")
    [report] = clean["reports"]
    assert report["changed"] == [] and report["as_filed"]["spent"] == "0.00"
    assert report["digest"].startswith("sha256:")

    grants("spend", G, "--decision", "JH-PM-01", "--year", "2018", "--amount", "125000",
           "--booked-on", "2018-12-28", "--object", "9902", "--voucher", "LATE-7")
    later = audit_json(grants, "--region", "23")
    [report] = later["reports"]
    assert report["changed"] == ["spent"]
    assert (report["as_filed"]["spent"], report["now"]["spent"]) == ("0.00", "125000.00")
    assert [c["type"] for c in report["changed_by"]] == ["spent"]
    [row] = grants.json("compliance", G, "--region", "23", "--year", "2018", "--on", "2019-03-01")
    assert any("no longer matches the ledger: spent 0 as filed, 125 000 now" in f
               for f in row["findings"])
    text = grants("audit", G, "--year", "2018", "--region", "23").stdout
    assert "CHANGED since filed" in text and "spent: 0 as filed, 125 000 now" in text
    assert "the year adds up" in text


def test_audit_lists_the_years_events_opening_and_reconciliation(grants):
    """The audit object has cli.md's keys, the year's events in order, and a reconciliation that holds."""
    jamtland(grants)
    result = audit_json(grants)
    assert set(result) >= {"as_of", "position", "digest", "events", "balances", "commitments", "compliance"}
    positions = [e["position"] for e in result["events"]]
    assert positions == sorted(positions)
    assert {"position", "recorded_at", "recorded_by", "type", "summary"} <= set(result["events"][0])
    assert sum(1 for e in result["events"] if e["type"] == "decided") == 11
    assert len(result["opening"]) == 11
    assert result["reconciled"] is True and result["reconciliation"]
    assert audit_json(grants)["digest"] == result["digest"]  # same history, same digest


def test_any_change_to_history_changes_the_digest(app):
    """Altering, dropping or reordering any event gives another digest."""
    from tests.jamtland import setup_jamtland

    setup_jamtland(app)
    entries = list(entries_of(app))
    original = digest_of(entries)
    assert digest_of(list(entries_of(app))) == original
    assert digest_of(entries[:-1]) != original
    assert digest_of([entries[1], entries[0], *entries[2:]]) != original
    event = entries[3].event
    altered = type(event)(**{**vars(event), "recorded_by": "mallory"})
    assert canonical(Entry(entries[3].position, altered)) != canonical(entries[3])
    assert digest_of([*entries[:3], Entry(entries[3].position, altered), *entries[4:]]) != original
    assert list(upto(entries, position=2)) == entries[:2]


def test_the_same_history_gives_the_same_digest_on_another_store(tmp_path, db_path):
    """The digest covers the events, not the store: positions are not part of it."""
    ledger = GrantLedger(env=store_env(db_path))
    from tests.jamtland import setup_jamtland

    setup_jamtland(ledger)
    entries = list(entries_of(ledger))
    renumbered = [Entry(e.position + 1000, e.event) for e in entries]
    assert digest_of(renumbered) == digest_of(entries)
    ledger.close()


def test_audit_refuses_years_outside_the_grant_and_absurd_positions(grants):
    """A year outside the grant's period is refused; a huge position is malformed, not a crash."""
    jamtland(grants)
    assert "outside its period" in grants("audit", G, "--year", "1900", code=1).stderr
    grants("balance", G, "--position", "9" * 30, code=2)
    r = grants("balance", G, "--as-of", "2001-01-01")
    assert "nothing of professionsmiljarden was recorded by then (as of position 0)" in r.stderr


def test_audit_says_both_the_moment_asked_and_the_last_recording(grants):
    """as_of is the moment asked for; last_recorded_at is when the last replayed event was recorded."""
    jamtland(grants)
    later = audit_json(grants, "--as-of", "2099-01-01")
    now = audit_json(grants)
    assert later["as_of"].startswith("2099-01-01T23:59:59")
    assert later["last_recorded_at"] == now["last_recorded_at"] and now["as_of"] is None
    assert later["digest"] == now["digest"]
