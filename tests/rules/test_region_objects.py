"""A region books a grant on its own accounting object: spend, compliance and history follow it."""

import json

from ledger.terms import DecisionTerms
from projections.compliance import compliance_rows
from projections.fold import entries_of, fold
from tests.drivers import D, kr
from tests.jamtland import G, jamtland, setup_jamtland


def test_a_regions_object_defaults_to_the_grants_and_can_be_its_own(app):
    """Until a region records its object it books on the grant's; after, on its own; again is unchanged."""
    setup_jamtland(app)
    grant = app.grant("pm")
    assert grant.object_for("23") == "9902" and grant.object_for("24") == "9902"
    assert app.set_region_object("pm", "24", "7710", "t")
    assert app.set_region_object("pm", "24", "7710", "t") is False
    assert app.set_region_object("pm", "23", "9902", "t") is False  # already what it books on
    grant = app.grant("pm")
    assert grant.object_for("24") == "7710" and grant.object_for("23") == "9902"


def test_spend_without_an_object_books_on_the_regions_object(app):
    """A booking with no object given is on the region's object, so compliance finds nothing off it."""
    setup_jamtland(app)
    app.set_region_object("pm", "23", "4455", "t")
    app.decide("pm", "X", "23", DecisionTerms("Director", D(2018, 1, 2), "A", "B", "it-admin", {2018: kr(100)}), "t")
    app.spend("pm", "X", 2018, kr(10), D(2018, 2, 1), "", "V1", "", "t")
    assert app.decision("pm", "X").booking("V1").object == "4455"
    app.spend("pm", "X", 2018, kr(5), D(2018, 2, 1), "9902", "V2", "", "t")
    [row] = compliance_rows(fold(entries_of(app)), "pm", D(2019, 1, 1), "23", 2018)
    off = [f for f in row["findings"] if "booked on object" in f]
    assert len(off) == 1 and "V2" in off[0] and "Jämtland's object 4455" in off[0]


def test_the_object_command_records_once_and_shows_in_history(grants):
    """`grants object` records the region's object once, and history says it."""
    jamtland(grants)
    assert "recorded" in grants("object", G, "--region", "Jämtland", "--object", "7710").stdout
    assert "unchanged" in grants("object", G, "--region", "23", "--object", "7710").stdout
    events = json.loads(grants("history", G, "--region", "23", fmt="json").stdout)
    assert any(e["type"] == "region-object-set" and "7710" in e["summary"] for e in events)
