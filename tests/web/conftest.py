"""The web view's fixtures: the Jämtland example with a sealed report, once per module, and a
client that speaks HTTP to the view of it."""

from __future__ import annotations

import pytest

from tests.drivers import Grants
from tests.jamtland import history_with_a_sealed_report


@pytest.fixture(scope="module")
def sealed(tmp_path_factory) -> Grants:
    """`grants` on a ledger holding `history_with_a_sealed_report` (shared by a module's tests:
    none of them records)."""
    grants = Grants(str(tmp_path_factory.mktemp("web") / "web.sqlite"))
    history_with_a_sealed_report(grants)
    return grants


@pytest.fixture(scope="module")
def client(sealed):
    from starlette.testclient import TestClient

    from web.app import create_app

    with TestClient(create_app(sealed.db)) as c:
        yield c
