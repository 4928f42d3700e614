"""Fixtures of the scenarios: the small export the import tests read (test_import_*.py)."""

from __future__ import annotations

import pytest

from tests.drivers import Grants
from tests.scenarios.importing import Export
from tests.jamtland import history_with_a_sealed_report


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Export:
    """A real export of a small ledger: decisions, a booking reversed, an amendment, a sealed report."""
    folder = tmp_path_factory.mktemp("source")
    grants = Grants(str(folder / "source.sqlite"))
    history_with_a_sealed_report(grants)
    grants("export", "--output", str(folder / "source.jsonl"))
    return Export((folder / "source.jsonl").read_bytes())
