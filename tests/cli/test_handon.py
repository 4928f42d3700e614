"""Handing figures on: Excel workbooks (--format xlsx --output), CSV for a Swedish Excel
(--csv-dialect excel-sv, read back on input too), recording commands as JSON, export's line."""

from __future__ import annotations

import csv
import datetime
import io
import json
import os

import openpyxl

from ledger.values import Amount, Region
from tests.drivers import DATA, ROOT
from tests.jamtland import G, define, history_with_a_sealed_report, jamtland

MONEY = ("allocated", "requisitioned", "committed", "reserved", "spent", "available", "shortfall")


def workbook(grants, path, *args):
    """Run a query with --format xlsx --output path and open what it wrote."""
    result = grants("--format", "xlsx", "--output", str(path), *args)
    assert result.stdout == ""
    return openpyxl.load_workbook(path)


def sheet_rows(sheet) -> list[dict]:
    rows = list(sheet.iter_rows(values_only=True))
    return [dict(zip(rows[0], row)) for row in rows[1:]]


def ore(value) -> int:
    """A workbook's number of kronor in öre (a spreadsheet keeps floats)."""
    assert isinstance(value, (int, float)) and not isinstance(value, bool), value
    return round(value * 100)


def test_balance_workbook_holds_numbers_dates_a_frozen_header_and_widths(grants, tmp_path):
    """The balance workbook has one sheet, its amounts numbers in '#,##0.00' equal to the JSON, a frozen and
    filtered header, and columns as wide as their longest value."""
    jamtland(grants)
    grants("requisition", G, "--region", "23", "--year", "2018", "--pot", "stimulus",
           "--amount", "1 000 000,50", "--on", "2018-03-01", "--ref", "REK-1")
    book = workbook(grants, tmp_path / "balance.xlsx", "balance", G, "--year", "2018")
    assert book.sheetnames == ["balance"]
    sheet = book["balance"]
    [row] = sheet_rows(sheet)
    [expected] = grants.json("balance", G, "--year", "2018")
    assert list(row)[:10] == ["region", "region_name", "year", *MONEY]
    assert set(row) == set(expected)
    for key in MONEY:
        assert ore(row[key]) == Amount.parse(expected[key]).ore, key
    assert ore(row["requisitioned"]) == 100_000_050
    assert (row["region"], row["region_name"], row["year"], row["closed"]) == ("23", "Jämtland", 2018, False)
    allocated = sheet.cell(row=2, column=4)
    assert allocated.number_format == "#,##0.00" and allocated.data_type == "n"
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == "A1:Q2"
    widths = {letter: dim.width for letter, dim in sheet.column_dimensions.items()}
    assert widths["B"] >= len("region_name") and widths["D"] >= len(Amount.parse("12208598").pretty())


def test_audit_workbook_has_a_sheet_per_part_with_typed_cells(grants, tmp_path):
    """The audit workbook: the audit (with its digest), events, opening, balances, commitments, compliance,
    findings, reports (per figure, as filed and now), reconciliation and year_end, as the JSON audit says."""
    history_with_a_sealed_report(grants)
    args = ("audit", G, "--year", "2018", "--on", "2019-03-01")
    book = workbook(grants, tmp_path / "audit.xlsx", *args)
    audit = grants.json(*args)
    assert book.sheetnames == ["audit", "events", "opening", "balances", "commitments", "compliance", "findings",
                               "reports", "reconciliation", "year_end"]
    about = {r["item"]: r["value"] for r in sheet_rows(book["audit"])}
    assert (about["digest"], about["position"], about["year"]) == (audit["digest"], audit["position"], 2018)
    assert about["judged_on"] == datetime.datetime(2019, 3, 1)
    events = sheet_rows(book["events"])
    assert [e["position"] for e in events] == [e["position"] for e in audit["events"]]
    assert all(isinstance(e["recorded_at"], datetime.datetime) for e in events)
    first = datetime.datetime.fromisoformat(audit["events"][0]["recorded_at"])
    utc = first.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    assert abs(events[0]["recorded_at"] - utc) <= datetime.timedelta(milliseconds=1)  # a sheet keeps milliseconds
    commitments = sheet_rows(book["commitments"])
    assert [ore(c["amount"]) for c in commitments] == [Amount.parse(c["amount"]).ore for c in audit["commitments"]]
    assert [c["decided_on"] for c in commitments] == [
        datetime.datetime.fromisoformat(c["decided_on"]) for c in audit["commitments"]]
    findings = sheet_rows(book["findings"])
    assert [f["finding"] for f in findings] == audit["compliance"][0]["findings"]
    reports = sheet_rows(book["reports"])
    assert [r["figure"] for r in reports] == list(MONEY)
    [spent] = [r for r in reports if r["figure"] == "spent"]
    [report] = audit["reports"]
    assert spent["changed"] is True and ore(spent["now"]) - ore(spent["as_filed"]) == 500_000
    assert "spend" in spent["changed_by"] or "booked" in spent["changed_by"]
    assert spent["digest"] == report["digest"] and spent["filed_on"] == datetime.datetime(2019, 2, 14)
    assert all(r["holds"] is True for r in sheet_rows(book["reconciliation"]))
    assert [ore(y["decided"]) for y in sheet_rows(book["year_end"])] == [
        Amount.parse(y["decided"]).ore for y in audit["year_end"]]
    for sheet in book:
        assert sheet.freeze_panes == "A2", sheet.title
    before = workbook(grants, tmp_path / "before.xlsx", "audit", G, "--year", "2018", "--position", "0")
    assert before.sheetnames == book.sheetnames and sheet_rows(before["events"]) == []


def test_every_query_writes_its_rows_as_a_sheet_named_after_it(grants, tmp_path):
    """commitments, compliance, authorisations, history, reclaims and year-end each write a workbook whose
    sheet holds as many rows as their JSON."""
    jamtland(grants)
    grants("reclaim", G, "--region", "23", "--year", "2018", "--amount", "100 000", "--decided-on", "2019-01-31",
           "--ground", "unused", "--interest-rate", "2.5", "--ref", "K1")
    for query in (["commitments", G], ["compliance", G, "--on", "2019-03-01"], ["authorisations", G],
                  ["history", G], ["reclaims", G, "--on", "2019-04-01"], ["year-end", G, "--year", "2018"]):
        book = workbook(grants, tmp_path / f"{query[0]}.xlsx", *query)
        assert book.sheetnames[0] == query[0]
        assert len(sheet_rows(book[query[0]])) == len(grants.json(*query)), query
    [reclaim] = sheet_rows(openpyxl.load_workbook(tmp_path / "reclaims.xlsx")["reclaims"])
    assert reclaim["rate"] == 2.5 and ore(reclaim["reclaimed"]) == 10_000_000


def test_csv_for_a_swedish_excel(grants, tmp_path):
    """--csv-dialect excel-sv: a byte order mark, semicolons, amounts with a decimal comma, recorded times
    Excel reads; the same rows as plain CSV, to standard output or to --output."""
    jamtland(grants)
    out = grants("--format", "csv", "--csv-dialect", "excel-sv", "balance", G, "--year", "2018").stdout
    assert out.startswith("\ufeffregion;region_name;year;allocated;")
    rows = list(csv.DictReader(io.StringIO(out.removeprefix("\ufeff")), delimiter=";"))
    plain = list(csv.DictReader(io.StringIO(grants("--format", "csv", "balance", G, "--year", "2018").stdout)))
    assert rows[0]["allocated"] == "12208598,00" and plain[0]["allocated"] == "12208598.00"
    assert {k: v.replace(",", ".") for k, v in rows[0].items()} == plain[0]
    history = grants("--format", "csv", "--csv-dialect", "excel-sv", "history", G).stdout
    [first] = list(csv.DictReader(io.StringIO(history.removeprefix("\ufeff")), delimiter=";"))[:1]
    datetime.datetime.strptime(first["recorded_at"], "%Y-%m-%d %H:%M:%S")
    path = tmp_path / "balance.csv"
    assert grants("--format", "csv", "--csv-dialect", "excel-sv", "--output", str(path), "balance", G,
                  "--year", "2018").stdout == ""
    assert path.read_bytes() == out.encode("utf-8")
    assert path.read_bytes().startswith(b"\xef\xbb\xbfregion;")


def test_an_allocation_table_and_a_population_file_saved_by_a_swedish_excel_are_read(grants, tmp_path):
    """An allocation table and a population file with a byte order mark, semicolons, decimal commas and
    grouped digits are read as their plain CSV would be."""
    define(grants)
    table = tmp_path / "table.csv"
    table.write_text("\ufeffregion;region_name;amount\r\n23;Jämtland;8 357 305,50\r\n01;Stockholm;1\u00a0000,25\r\n",
                     encoding="utf-8")
    grants("allocate", G, "--year", "2018", "--pot", "stimulus", "--table", str(table))
    alloc = {r["region"]: r["allocated"] for r in grants.json("balance", G, "--year", "2018")}
    assert alloc == {"01": "1000.25", "23": "8357305.50"}
    pop = tmp_path / "pop.csv"
    people = {"01": 2_000_000, "03": 500_000, "23": 500_000}
    pop.write_text("\ufeffLänskod;Namn;Population\r\n" + "".join(
        f"{r.code};{r.name};{people.get(r.code, 0):,}\r\n".replace(",", "\u00a0") for r in Region.all()),
        encoding="utf-8")
    grants("allocate", G, "--year", "2018", "--pot", "nurse-education", "--by-population", str(pop),
           "--amount", "300")
    alloc = {r["region"]: r["allocated"] for r in grants.json("balance", G, "--year", "2018")}
    assert alloc == {"01": "1200.25", "03": "50.00", "23": "8357355.50"}


def test_recording_commands_print_what_they_recorded_as_json(grants):
    """With --format json, requisition, decide and spend print one object each: recorded, command, what, and
    the log's last position; a retry says recorded false at the same position."""
    jamtland(grants)
    before = grants.json("history", G)[-1]["position"]
    steps = [
        ("requisition", G, "--region", "23", "--year", "2018", "--pot", "stimulus", "--amount", "8357305",
         "--on", "2018-03-01", "--ref", "REK-1"),
        ("decide", G, "--region", "23", "--decision", "JH-PM-12", "--decided-by", "Anna Berg",
         "--on", "2018-03-02", "--area", "IT", "--activity", "Journal", "--purpose", "it-admin",
         "--amount", "2018=100000"),
        ("spend", G, "--decision", "JH-PM-12", "--year", "2018", "--amount", "1 000,50",
         "--booked-on", "2018-03-31", "--object", "9902", "--voucher", "V-1"),
    ]
    for n, step in enumerate(steps):
        said = json.loads(grants(*step, fmt="json").stdout)
        assert said["recorded"] is True and said["command"] == step[0] and said["what"], said
        assert said["position"] > before
        before = said["position"]
        again = json.loads(grants(*step, fmt="json").stdout)
        assert (again["recorded"], again["position"]) == (False, said["position"])
    assert grants.json("history", G)[-1]["position"] == before
    assert grants(*steps[0]).stdout.startswith("unchanged:")  # a table still says it in words


def test_workbook_errors_are_one_line_and_leave_no_file(grants, tmp_path):
    """xlsx without --output, a missing folder, a folder or a terminal as the file: one error line, exit 2;
    a failed query leaves the file already there as it was, and no partial file."""
    jamtland(grants)
    assert "--output" in grants("--format", "xlsx", "balance", G, code=2).stderr
    assert "no folder" in grants("--format", "xlsx", "--output", str(tmp_path / "no" / "b.xlsx"), "balance", G,
                                 code=2).stderr
    assert "is a directory" in grants("--format", "xlsx", "--output", str(tmp_path), "balance", G, code=2).stderr
    master, terminal = os.openpty()
    try:
        assert "terminal" in grants("--format", "xlsx", "--output", os.ttyname(terminal), "balance", G,
                                    code=2).stderr
    finally:
        os.close(master), os.close(terminal)
    kept = tmp_path / "kept.xlsx"
    kept.write_bytes(b"earlier")
    grants("--format", "xlsx", "--output", str(kept), "balance", "no-such-grant", code=1)
    assert kept.read_bytes() == b"earlier"
    grants("--format", "xlsx", "--output", str(kept), "balance", G)
    assert openpyxl.load_workbook(kept).sheetnames == ["balance"]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_export_says_what_it_wrote(grants, tmp_path):
    """export names how many events, which positions and where: a line on stdout with --output (the global
    one too), on stderr when the events themselves go to stdout."""
    jamtland(grants)
    last = grants.json("history", G)[-1]["position"]
    path = tmp_path / "ledger.jsonl"
    said = grants("export", "--output", str(path))
    assert said.stdout == f"exported {last} events (positions 1-{last}) to {path}\n"
    assert grants("--output", str(tmp_path / "again.jsonl"), "export").stdout.startswith(f"exported {last} events")
    assert (tmp_path / "again.jsonl").read_text(encoding="utf-8") == path.read_text(encoding="utf-8")
    piped = grants("export")
    assert piped.stdout == path.read_text(encoding="utf-8")
    assert piped.stderr == f"exported {last} events (positions 1-{last}) to standard output\n"


def test_the_bundled_allocation_table_reads_the_same_with_semicolons(grants, tmp_path):
    """The 2016 allocation table saved with semicolons and a byte order mark allocates what the comma file does."""
    define(grants)
    grants("agreement", "sign", G, "--year", "2016", "--signed-on", "2016-01-20", "--pot", "stimulus=1000000000",
           "--report-due", "2017-02-15")
    text = (DATA / "allocation-2016.csv").read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    semi = tmp_path / "allocation-2016-sv.csv"
    with open(semi, "w", encoding="utf-8-sig", newline="") as f:
        csv.writer(f, delimiter=";").writerows([[c.replace(".", ",") for c in row] for row in rows])
    grants("allocate", G, "--year", "2016", "--pot", "stimulus", "--table", str(semi))
    again = grants("allocate", G, "--year", "2016", "--pot", "stimulus", "--table", str(DATA / "allocation-2016.csv"))
    assert again.stdout.startswith("unchanged:")


def test_an_sie_map_file_saved_by_a_swedish_excel_maps_the_same_rows(grants, tmp_path):
    """The docs' SIE map saved with a byte order mark, semicolons and CRLF lines books what the plain map books,
    and `sie import --format csv --csv-dialect excel-sv` lists the bookings with decimal commas."""
    jamtland(grants)
    sample = ROOT / "docs" / "examples"
    lines = (sample / "jamtland-map.csv").read_text(encoding="utf-8").splitlines()
    excel = tmp_path / "map-sv.csv"
    excel.write_text("\ufeff" + "".join(line.replace(",", ";") + "\r\n" for line in lines), encoding="utf-8")

    def importing(map_file, *more: str):
        return grants("--format", "json", "sie", "import", str(sample / "jamtland-2018.se"), "--grant", G,
                      "--region", "23", "--dimension", "20", "--map", str(map_file), *more)

    plain = json.loads(importing(sample / "jamtland-map.csv", "--dry-run").stdout)
    assert json.loads(importing(excel, "--dry-run").stdout) == plain and plain["new"] == 7
    out = grants("--format", "csv", "--csv-dialect", "excel-sv", "sie", "import", str(sample / "jamtland-2018.se"),
                 "--grant", G, "--region", "23", "--dimension", "20", "--map", str(excel)).stdout
    rows = list(csv.DictReader(io.StringIO(out.removeprefix("\ufeff")), delimiter=";"))
    assert out.startswith("\ufeff") and {r["amount"] for r in rows} >= {"-12500,00"}
