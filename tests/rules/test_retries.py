"""Safe retries at the command line: a command sent again records nothing when its fact is
recorded or its wanted state holds; a ref reused for other content is refused."""

from __future__ import annotations

import json

import pytest

from tests.jamtland import G, jamtland

from tests.drivers import Grants

YEAR = ["--region", "23", "--year", "2018"]
MONEY = {
    "requisition": ["requisition", G, *YEAR, "--pot", "stimulus", "--amount", "1000", "--on", "2018-03-01"],
    "reserve": ["reserve", G, *YEAR, "--amount", "1000", "--purpose", "it-admin", "--on", "2018-04-06"],
    "repay": ["repay", G, *YEAR, "--amount", "1000", "--on", "2018-06-01"],
}


@pytest.mark.parametrize("kind", sorted(MONEY))
def test_a_money_command_sent_again_with_its_ref_records_once(grants, kind):
    """The same ref and content: unchanged, exit 0, nothing written; other content or another
    kind under that ref: exit 1 naming the ref's first use; no ref, or a blank one: exit 2."""
    jamtland(grants)
    args = MONEY[kind]
    assert grants(*args, "--ref", "X-1").stdout.startswith("recorded:")
    before = grants.events()
    again = grants(*args, "--ref", "X-1").stdout
    assert again.startswith("unchanged:") and "nothing new" in again
    assert grants.events() == before
    other = [a if a != "1000" else "1001" for a in args]
    err = grants(*other, "--ref", "X-1", code=1).stderr
    assert "ref 'X-1' is already used in 23 Jämtland 2018 for a" in err and "1 000" in err
    for name, other_kind in MONEY.items():
        if name != kind:
            assert "already used" in grants(*other_kind, "--ref", "X-1", code=1).stderr
    assert "Missing option '--ref'" in grants(*args, code=2).stderr
    assert "needs a --ref" in grants(*args, "--ref", "  ", code=2).stderr
    assert grants.events() == before


def test_frame_retries_and_refs(grants):
    """A frame equal to the year's is unchanged; a frame's ref cannot name another frame."""
    jamtland(grants)
    frame = ["frame", G, "--region", "23", "--year", "2017", "--on", "2016-02-01"]
    assert grants(*frame, "--amount", "1000000", "--ref", "RF-1").stdout.startswith("recorded:")
    before = grants.events()
    assert grants(*frame, "--amount", "1000000").stdout.startswith("unchanged:")
    assert grants(*frame, "--amount", "1000000", "--ref", "RF-1").stdout.startswith("unchanged:")
    assert "for a planning frame of 1 000 000" in grants(*frame, "--amount", "2", "--ref", "RF-1",
                                                              code=1).stderr
    assert grants.events() == before
    assert grants(*frame, "--amount", "2000000").stdout.startswith("recorded:")


def test_revoke_close_and_reopen_are_unchanged_when_their_state_holds(grants):
    """Revoking again for the same reason, closing a closed year, reopening an open one: exit 0,
    nothing written; revoking again for another reason is refused naming the revocation."""
    jamtland(grants)
    revoke = ["revoke", G, "--decision", "JH-PM-11", "--decided-by", "Anna Berg", "--on", "2018-05-01"]
    close = ["close", G, *YEAR, "--on", "2019-03-01"]
    reopen = ["reopen", G, *YEAR, "--on", "2019-03-02", "--reason", "late invoice"]
    assert grants(*reopen).stdout.startswith("unchanged:")
    assert grants(*revoke, "--reason", "stopped").stdout.startswith("recorded:")
    assert grants(*close).stdout.startswith("recorded:")
    before = grants.events()
    assert grants(*revoke, "--reason", "stopped").stdout.startswith("unchanged:")
    assert grants(*close[:-1], "2019-03-05").stdout.startswith("unchanged:")
    err = grants(*revoke, "--reason", "other", code=1).stderr
    assert "already revoked, on 2018-05-01 by Anna Berg (stopped)" in err
    assert grants.events() == before
    assert grants(*reopen).stdout.startswith("recorded:")
    assert grants(*reopen).stdout.startswith("unchanged:")
    assert "verified" in grants("verify").stdout


def _legacy(line: str) -> str:
    """An exported /v2 money event as a ledger before refs wrote it (/v1: no ref on a frame or
    a reservation; requisitions and repayments with refs that may repeat)."""
    record = json.loads(line)
    topic = record["topic"]
    if topic.endswith("/v2"):
        record["topic"] = topic[:-3] + "/v1"
        if record["type"] in ("reserved", "planning-frame-set"):
            del record["data"]["ref"]
        if record["data"].get("ref") == "REK-2":
            record["data"]["ref"] = "REK-1"  # a retry recorded twice, as they were then
    return json.dumps(record, ensure_ascii=False)


def test_a_history_recorded_before_refs_imports_verifies_and_remembers_its_refs(grants, tmp_path):
    """/v1 money events (a ref used twice, a reservation without one) import and verify; a later
    retry of a /v1 requisition's ref records nothing."""
    jamtland(grants)
    grants("frame", G, "--region", "23", "--year", "2017", "--amount", "1000", "--on", "2016-02-01")
    for ref in ("REK-1", "REK-2"):
        grants("requisition", G, *YEAR, "--pot", "stimulus", "--amount", "1000", "--on", "2018-03-01",
               "--ref", ref)
    grants("reserve", G, *YEAR, "--amount", "5", "--purpose", "it-admin", "--on", "2018-04-06",
           "--ref", "RES-1")
    grants("export", "--output", str(tmp_path / "new.jsonl"))
    lines = (tmp_path / "new.jsonl").read_text(encoding="utf-8").splitlines()
    old = [_legacy(line) for line in lines]
    assert sum('/v1"' in line and "RegionYear.R" in line for line in old) == 3
    (tmp_path / "old.jsonl").write_text("\n".join(old) + "\n", encoding="utf-8")
    target = Grants(str(tmp_path / "target.sqlite"))
    assert target("import", str(tmp_path / "old.jsonl")).stdout.startswith(f"imported {len(old)} events")
    assert "verified" in target("verify").stdout
    [b] = target.json("balance", G, *YEAR)
    assert (b["requisitioned"], b["reserved"]) == ("2000.00", "5.00")
    assert target("requisition", G, *YEAR, "--pot", "stimulus", "--amount", "1000", "--on", "2018-03-01",
                  "--ref", "REK-1").stdout.startswith("unchanged:")
    summaries = [r["summary"] for r in target.json("history", G, "--region", "23")]
    assert sum(s.endswith("from pot stimulus, ref REK-1") for s in summaries) == 2
