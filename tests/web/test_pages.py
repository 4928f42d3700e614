"""The web view over HTTP (Starlette's TestClient): every page, its figures against the command
line's, its links, its CSV downloads, its refusals and its errors."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from urllib.parse import urlsplit

import pytest

from ledger.values import Amount
from tests.jamtland import G, history_with_a_sealed_report
from tests.web.pages import Page

ON = "2019-03-01"
PAGES = [
    "/",
    f"/g/{G}/2018?on={ON}",
    f"/g/{G}/2016",
    f"/g/{G}/2018/r/23?on={ON}",
    f"/g/{G}/2018/r/23?by=decision",
    f"/g/{G}/r/23/d/JH-PM-01",
    f"/g/{G}/r/23/d/JH-PM-02?year=2018",
    f"/g/{G}/2018/audit",
    f"/g/{G}/2018/audit?region=23&position=20&on={ON}",
    f"/g/{G}/2018/audit?as_of=2000-01-01",
]


def test_every_page_answers(client):
    """Each kind of page answers 200 with HTML on the example with a sealed report."""
    for url in PAGES:
        response = client.get(url)
        assert response.status_code == 200, (url, response.text[:300])
        assert response.headers["content-type"].startswith("text/html")
        assert "Traceback" not in response.text


def test_overview_figures_equal_the_cli_balance(client, sealed):
    """Each region's figures and the totals on the overview are `grants --format json balance`'s, written as the tables write them."""
    page = Page(client.get(f"/g/{G}/2018?on={ON}").text)
    rows = sealed.json("balance", G, "--year", "2018")
    assert rows
    for row in rows:
        shown = page.cells[row["region"]]
        for key in ("allocated", "committed", "spent", "reserved", "available", "shortfall"):
            assert shown[key] == Amount.parse(row[key]).pretty(), (row["region"], key)
    risk = sealed.json("compliance", G, "--year", "2018", "--on", ON)
    assert page.cells["23"]["money_at_risk"] == Amount.parse(risk[0]["money_at_risk"]).pretty()
    assert page.cells[None]["committed"] == Amount(sum(Amount.parse(r["committed"]).ore for r in rows)).pretty()
    assert "non-compliant" in page.all_text


def test_every_internal_link_resolves(client):
    """Crawling every internal link from the grants' list (SVG's and CSV downloads included) meets only 200s."""
    seen, queue = set(), ["/", f"/g/{G}/2018?on={ON}"]
    while queue:
        url = queue.pop()
        if url in seen:
            continue
        seen.add(url)
        response = client.get(url)
        assert response.status_code == 200, (url, response.text[:300])
        if response.headers["content-type"].startswith("text/html"):
            for href in Page(response.text).links:
                parts = urlsplit(href)
                if not parts.scheme and not href.startswith("#") and not href.startswith("data:"):
                    queue.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    assert len(seen) > 40
    assert any("/d/JH-PM-11" in u for u in seen) and any("csv=" in u for u in seen)
    assert any("position=" in u for u in seen) and "/static/style.css" in seen


def _csv(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.text[:300])
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"].startswith("attachment; filename=")
    return response.text


@pytest.mark.parametrize("url, argv", [
    (f"/g/{G}/2018?csv=balances", ["balance", G, "--year", "2018"]),
    (f"/g/{G}/2018?csv=compliance&on={ON}", ["compliance", G, "--year", "2018", "--on", ON]),
    (f"/g/{G}/2018/r/23?csv=commitments", ["commitments", G, "--region", "23", "--year", "2018"]),
    (f"/g/{G}/2018/r/23?csv=balance", ["balance", G, "--region", "23", "--year", "2018"]),
    (f"/g/{G}/2018/r/23?csv=reclaims&on={ON}", ["reclaims", G, "--region", "23", "--year", "2018", "--on", ON]),
    (f"/g/{G}/r/23/d/JH-PM-01?csv=events", ["history", G, "--decision", "JH-PM-01"]),
    (f"/g/{G}/2018/audit?region=23&position=20&csv=events",
     ["audit", G, "--year", "2018", "--region", "23", "--position", "20"]),
])
def test_csv_downloads_equal_the_cli(client, sealed, url, argv):
    """A page's CSV download is exactly what the matching `grants --format csv` command prints, and parses."""
    text = _csv(client, url)
    cli = sealed(*argv, fmt="csv").stdout
    if argv[0] == "audit":  # the command prints every part after its events; the page's download is one part
        cli = cli.split("\n\n# ", 1)[0] + ("\n" if "\n\n# " in cli else "")
    assert text == cli
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows or "reclaims" in url


def test_decision_schedule_csv_is_its_commitment_rows(client, sealed):
    """The decision page's schedule CSV holds the decision's commitment rows as `grants commitments` gives them."""
    rows = list(csv.DictReader(io.StringIO(_csv(client, f"/g/{G}/r/23/d/JH-PM-02?csv=schedule"))))
    cli = [r for r in sealed.json("commitments", G, "--region", "23") if r["decision"] == "JH-PM-02"]
    assert [(r["year"], r["amount"], r["status"]) for r in rows] == \
           [(str(r["year"]), r["amount"], r["status"]) for r in cli] == [("2018", "200000.00", "amended")]


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_writes_are_refused_with_405(client, sealed, method):
    """No address takes anything but GET and HEAD: every other method is 405 and records nothing."""
    before = sealed.events()
    for url in ["/", f"/g/{G}/2018", f"/g/{G}/2018/audit", "/no/such/page", "/static/style.css"]:
        response = client.request(method, url, content=b"decision=X")
        assert response.status_code == 405, (method, url)
        assert response.headers["allow"] == "GET, HEAD"
    assert sealed.events() == before


def test_head_answers_without_a_body(client):
    """HEAD is answered like GET, without the page."""
    response = client.head(f"/g/{G}/2018")
    assert response.status_code == 200 and response.content == b""


@pytest.mark.parametrize("url, status, message", [
    ("/g/nosuchgrant/2018", 404, "unknown grant 'nosuchgrant'"),
    ("/g/nosuchgrant", 404, "unknown grant 'nosuchgrant'"),
    (f"/g/{G}/2031", 404, f"grant {G} has no year 2031"),
    (f"/g/{G}/2016/r/23", 404, "nothing recorded for 23 Jämtland in 2016"),
    (f"/g/{G}/2018/r/99", 404, "region"),
    (f"/g/{G}/r/23/d/NO-SUCH", 404, "unknown decision 'NO-SUCH'"),
    (f"/g/{G}/r/01/d/JH-PM-01", 404, "unknown decision 'JH-PM-01' of 01"),
    ("/no/such/page", 404, "no page at /no/such/page"),
    (f"/g/{G}/2018/audit?position=abc", 400, "abc"),
    (f"/g/{G}/2018/audit?as_of=yesterday", 400, "yesterday"),
    (f"/g/{G}/2018?on=2019-13-01", 400, "2019-13-01"),
    (f"/g/{G}/2018?csv=nothing", 400, "csv 'nothing'"),
    (f"/g/{G}/2018?refresh=1", 400, "refresh '1'"),
])
def test_errors_are_one_line_pages(client, url, status, message):
    """An unknown grant, year, region-year or decision is a 404 page and a malformed parameter a 400, each with its one line."""
    response = client.get(url)
    assert response.status_code == status, (url, response.text[:300])
    page = Page(response.text)
    errors = [t for t in page.text if t.strip().startswith("error:")]
    assert len(errors) == 1 and message in errors[0], (url, errors)
    assert "Traceback" not in response.text


@pytest.mark.parametrize("query, argv", [
    ("region=23&position=20", ["--region", "23", "--position", "20"]),
    ("position=33", ["--position", "33"]),
    ("region=23&as_of=2000-01-01", ["--region", "23", "--as-of", "2000-01-01"]),
    ("region=23", ["--region", "23"]),
])
def test_audit_form_answers_as_the_cli(client, sealed, query, argv):
    """The audit page with a position or a moment shows the position, digest and notes `grants audit` gives for them."""
    page = Page(client.get(f"/g/{G}/2018/audit?{query}&on={ON}").text)
    result = sealed("audit", G, "--year", "2018", "--on", ON, *argv, fmt="json")
    cli = json.loads(result.stdout)
    assert page.cells[None]["position"] == str(cli["position"])
    assert page.cells[None]["digest"] == cli["digest"]
    for note in result.stderr.strip().splitlines():
        assert note in page.all_text
    if cli["recorded"]:
        assert f"{len(cli['events'])}, in recording order" in page.all_text
    else:
        assert "(nothing recorded by then)" in page.all_text


def test_refresh_is_opt_in(client):
    """A page reloads itself only when asked (?refresh=N)."""
    assert 'http-equiv="refresh"' not in client.get(f"/g/{G}/2018").text
    assert '<meta http-equiv="refresh" content="30">' in client.get(f"/g/{G}/2018?refresh=30").text


def test_text_is_escaped(grants):
    """Recorded text that looks like markup is shown as text, never run as markup."""
    from starlette.testclient import TestClient

    from web.app import create_app

    history_with_a_sealed_report(grants)
    grants("decide", G, "--region", "23", "--decision", "X<1>", "--decided-by", "Anna Berg", "--on",
           "2018-01-02", "--area", "<script>alert(1)</script>", "--activity", "a & b",
           "--purpose", "it-admin", "--amount", "2018=1000")
    with TestClient(create_app(grants.db)) as client:
        page = client.get(f"/g/{G}/2018/r/23").text
        assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert "a &amp; b" in page
        decision = client.get(f"/g/{G}/r/23/d/X%3C1%3E")
        assert decision.status_code == 200 and "Decision X&lt;1&gt;" in decision.text


def test_a_store_that_fails_its_checks_is_a_500_page(grants):
    """A read model altered behind the ledger's back gives a 500 page that says so in one line, never a traceback."""
    from starlette.testclient import TestClient

    from web.app import create_app

    history_with_a_sealed_report(grants)
    grants("balance", G)  # the read models are written
    with sqlite3.connect(grants.db) as db:
        db.execute("UPDATE grants_rm_balances SET allocated = allocated + 1")
    with TestClient(create_app(grants.db)) as client:
        response = client.get(f"/g/{G}/2018")
    assert response.status_code == 500
    assert "The stored history fails its checks" in response.text and "grants verify" in response.text
    assert "Traceback" not in response.text


def test_a_missing_store_is_not_created(tmp_path):
    """The view of a file that is not there says it cannot use the store, and creates no ledger."""
    from starlette.testclient import TestClient

    from web.app import create_app

    target = tmp_path / "absent.sqlite"
    with TestClient(create_app(str(target))) as client:
        response = client.get("/")
    assert response.status_code in (400, 404, 503) and "error:" in response.text
    assert not target.exists()


def test_a_page_shows_what_is_recorded_after_it_was_served(store):
    """On SQLite and PostgreSQL a page asked again shows what another client recorded since (each request reads anew)."""
    from starlette.testclient import TestClient

    from tests.drivers import Grants
    from tests.jamtland import jamtland
    from web.app import create_app

    grants = Grants(store)
    jamtland(grants)
    with TestClient(create_app(store)) as client:
        assert Page(client.get(f"/g/{G}/2018").text).cells["23"]["spent"] == "0"
        grants("spend", G, "--decision", "JH-PM-01", "--year", "2018", "--amount", "1234,50",
               "--booked-on", "2018-06-01", "--object", "9902", "--voucher", "V9")
        assert Page(client.get(f"/g/{G}/2018?refresh=30").text).cells["23"]["spent"] == "1 234,50"


def test_every_table_download_is_also_a_workbook(client, sealed):
    """`?xlsx=PART` gives the same table as an Excel sheet: amounts as numbers equal to the CLI's JSON."""
    import openpyxl
    response = client.get(f"/g/{G}/2018?xlsx=balances")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert response.headers["content-disposition"].endswith('.xlsx"')
    sheet = openpyxl.load_workbook(io.BytesIO(response.content))["balances"]
    header = [c.value for c in sheet[1]]
    rows = [dict(zip(header, (c.value for c in r))) for r in sheet.iter_rows(min_row=2)]
    cli = sealed.json("balance", G, "--year", "2018")
    assert [(r["region"], r["allocated"]) for r in rows] == [(c["region"], float(c["allocated"])) for c in cli]
    page = client.get(f"/g/{G}/2018").text
    assert "xlsx=balances" in page and "xlsx=compliance" in page
    assert client.get(f"/g/{G}/2018?xlsx=nothing").status_code == 400
