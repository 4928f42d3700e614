"""`grants sie import` and `grants sie reconcile`: the books' grant cost rows become bookings,
all or nothing, once; and the books and the ledger agree year by year."""

import datetime
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings, strategies as st

from commands.cli import cli
from ledger.values import Amount
from tests import siefiles
from tests.drivers import ROOT, Grants
from tests.jamtland import G, jamtland
from tests.siefiles import GRANT_OBJECT, Line, Ver, records, sie_bytes

SAMPLE = ROOT / "docs" / "examples"
D = datetime.date


def _files(folder: Path, vouchers, mapping=None, **kw) -> tuple[str, str]:
    folder.mkdir(exist_ok=True)
    tmp_path = folder
    sie = tmp_path / "books.se"
    sie.write_bytes(sie_bytes(records(vouchers, year=2018), **kw))
    map_file = tmp_path / "map.csv"
    pairs = mapping or [(6, f"PM{n:02d}", f"JH-PM-{n:02d}") for n in range(1, 11)]
    map_file.write_text("dimension;object;decision\n" + "".join(f"{d};{o};{x}\n" for d, o, x in pairs),
                        encoding="utf-8")
    return str(sie), str(map_file)


def sie(grants: Grants, *args: str, fmt: str | None = None):
    """`grants sie ...` with every error line (a refusal names each offending row)."""
    argv = ["--db", grants.db, "--user", "anna"] + (["--format", fmt] if fmt else []) + ["sie", *args]
    result = CliRunner().invoke(cli, argv, catch_exceptions=False)
    assert "Traceback" not in result.output
    return result


def importing(path: str, map_path: str, *more: str) -> list[str]:
    return ["import", path, "--grant", G, "--region", "Jämtland", "--dimension", "20", "--map", map_path, *more]


def cost(n: int, decision: int, kronor: int, on: D, **kw) -> Ver:
    obj = ((1, "4110"), GRANT_OBJECT, (6, f"PM{decision:02d}"))
    amount = Amount.kronor(kronor)
    return Ver("A", str(n), on, f"cost {n}", (Line("7010", obj, amount, **kw), Line("1930", (), -amount)))


def test_the_docs_sample_is_what_the_generator_writes(tmp_path):
    """docs/examples holds exactly what `python -m tests.siefiles` writes."""
    siefiles.jamtland_sample(tmp_path)
    for name in ("jamtland-2018.se", "jamtland-map.csv"):
        assert (tmp_path / name).read_bytes() == (SAMPLE / name).read_bytes(), name


def test_the_sample_imports_once_and_reconciles(grants):
    """A dry run records nothing; the import books 7 rows (a credit among them); again, nothing new."""
    jamtland(grants)
    args = importing(str(SAMPLE / "jamtland-2018.se"), str(SAMPLE / "jamtland-map.csv"))
    before = grants.events()
    dry = sie(grants, *args, "--dry-run", fmt="json")
    assert dry.exit_code == 0 and grants.events() == before
    assert dry.stdout and '"new": 7' in dry.stdout
    done = sie(grants, *args)
    assert done.exit_code == 0 and "recorded 7 new bookings; 0 already there" in done.stdout
    assert grants.events() == before + 14
    again = grants.json("sie", *args)
    assert (again["new"], again["unchanged"]) == (0, 7)
    credit = next(b for b in again["bookings"] if b["voucher"] == "2018-A-201-1")
    assert credit == {"voucher": "2018-A-201-1", "decision": "JH-PM-06", "year": 2018, "amount": "-12500.00",
                      "booked_on": "2018-07-10", "text": "Kredit", "new": False}
    assert {b["voucher"] for b in again["bookings"]} >= {"2018-A-202-2"}  # the added row, not its echo
    spent = {r["decision"]: r["spent"] for r in grants.json("commitments", G, "--region", "23")}
    assert spent["JH-PM-06"] == "450000.00" and spent["JH-PM-08"] == "265250.00"
    rows = grants.json("sie", "reconcile", str(SAMPLE / "jamtland-2018.se"), "--grant", G, "--region", "23",
                       "--dimension", "20")
    assert rows == [{"year": 2018, "books": "1539650.00", "balances": "1539650.00", "ledger": "1539650.00",
                     "difference": "0.00"}]
    assert "credited" in grants("history", G, "--decision", "JH-PM-06").stdout


def test_one_row_that_cannot_be_booked_refuses_the_file(grants, tmp_path):
    """Over the year's amount, no decision in the map, a year outside the schedule: exit 1, a line each, nothing."""
    jamtland(grants)
    path, map_path = _files(tmp_path, [
        cost(1, 2, 100, D(2018, 3, 1)),
        cost(2, 2, 250_000, D(2018, 4, 1)),
        cost(3, 11, 5, D(2018, 4, 1)),
        cost(4, 1, 5, D(2018, 4, 1), transdat=D(2017, 12, 31)),
    ])
    before = grants.events()
    result = sie(grants, *importing(path, map_path))
    assert result.exit_code == 1 and grants.events() == before
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 4 and all(line.startswith("error: ") for line in lines)
    assert lines[0].startswith("error: 2018-A-2-1 2018-04-01 250 000: cannot book")
    assert "no decision in the map" in lines[1] and "2018-A-3-1" in lines[1]
    assert "2018-A-4-1 2017-12-31" in lines[2] and "grants nothing for 2017" in lines[2]
    assert lines[3] == "error: 3 of 4 bookings cannot be recorded, so nothing was recorded"


@pytest.mark.parametrize("change, phrase", [
    (lambda b: b.replace(b"-100.00", b"-99.99"), "does not balance"),
    (lambda b: b.replace(b"cost 1", b"cost 9"), "does not match the checksum"),
    (lambda b: b.replace(b"20180301", b"20180231"), "line"),
])
def test_a_file_that_cannot_be_read_is_exit_2_and_records_nothing(grants, tmp_path, change, phrase):
    """An unbalanced voucher, a wrong #KSUMMA, a date that is no date: exit 2 naming the line, nothing recorded."""
    jamtland(grants)
    path, map_path = _files(tmp_path, [cost(1, 2, 100, D(2018, 3, 1))])
    Path(path).write_bytes(change(Path(path).read_bytes()))
    before = grants.events()
    result = sie(grants, *importing(path, map_path))
    assert result.exit_code == 2 and phrase in result.stderr and "line " in result.stderr
    assert result.stderr.startswith("error: ") and grants.events() == before


def test_a_later_file_repeating_earlier_months_records_only_the_new_rows(grants, tmp_path):
    """January-March, then January-June: the second import books April-June only; reconcile then agrees."""
    jamtland(grants)
    months = [cost(m, 1, 1000 * m, D(2018, m, 28)) for m in range(1, 7)]
    first, map_path = _files(tmp_path / "q1", months[:3])
    assert grants.json("sie", *importing(first, map_path))["new"] == 3
    second, map_path = _files(tmp_path / "h1", months)
    behind = sie(grants, "reconcile", second, "--grant", G, "--region", "23", "--dimension", "20")
    assert behind.exit_code == 1 and "-15 000" in behind.stdout  # April-June are not in the ledger yet
    again = grants.json("sie", *importing(second, map_path))
    assert (again["new"], again["unchanged"]) == (3, 3)
    agreed = sie(grants, "reconcile", second, "--grant", G, "--region", "23", "--dimension", "20")
    assert agreed.exit_code == 0


def test_the_regions_own_object_is_the_one_imported(grants, tmp_path):
    """A region booking the grant on 7710 imports the rows on 7710, not those on the grant's 9902."""
    jamtland(grants)
    grants("object", G, "--region", "23", "--object", "7710")
    own = ((6, "PM01"), (20, "7710"))
    vouchers = [Ver("A", "1", D(2018, 3, 1), "own", (Line("7010", own, Amount.kronor(10)),
                                                     Line("1930", (), -Amount.kronor(10)))),
                cost(2, 1, 20, D(2018, 3, 1))]
    path, map_path = _files(tmp_path, vouchers)
    out = grants.json("sie", *importing(path, map_path))
    assert [b["voucher"] for b in out["bookings"]] == ["2018-A-1-1"]
    assert grants.json("commitments", G, "--region", "23")[0]["spent"] == "10.00"


@pytest.fixture(scope="module")
def jamtland_file(tmp_path_factory) -> Path:
    """A Jämtland ledger typed once; each example copies it."""
    path = tmp_path_factory.mktemp("base") / "jamtland.sqlite"
    jamtland(Grants(str(path)))
    return path


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(1, 4), st.integers(-300, 3000).filter(bool), st.integers(1, 12),
                          st.sampled_from(["cp437", "utf-8", "latin-1"])), min_size=1, max_size=12))
def test_an_imported_file_gives_the_ledger_the_same_spend_commands_give(tmp_path_factory, jamtland_file, rows):
    """Whatever rows a file holds, its import leaves the same commitments as `spend` for each row
    (or, when one of them is refused, the same refusal and nothing)."""
    base = tmp_path_factory.mktemp("sie")
    typed, imported = Grants(str(base / "typed.sqlite")), Grants(str(base / "imported.sqlite"))
    shutil.copyfile(jamtland_file, typed.db)
    shutil.copyfile(jamtland_file, imported.db)
    vouchers, refused = [], False
    for n, (decision, kronor, month, _) in enumerate(rows, 1):
        on = D(2018, month, 28)
        vouchers.append(cost(n, decision, kronor, on))
        result = CliRunner().invoke(cli, ["--db", typed.db, "--user", "anna", "spend", G, "--decision",
                                          f"JH-PM-{decision:02d}", "--year", "2018", "--amount", str(kronor),
                                          "--booked-on", on.isoformat(), "--voucher", f"2018-A-{n}-1"])
        refused = refused or result.exit_code != 0
    encoding = rows[0][3]
    path, map_path = _files(base, vouchers, encoding=encoding)
    result = sie(imported, *importing(path, map_path, "--encoding", encoding))
    assert result.exit_code == (1 if refused else 0), result.stderr
    if not refused:
        assert imported.json("commitments", G) == typed.json("commitments", G)
        assert imported.json("balance", G) == typed.json("balance", G)


def test_import_and_reconcile_hold_on_both_stores(store):
    """On SQLite and PostgreSQL alike: the sample imports whole, once, and reconciles."""
    grants = Grants(store)
    jamtland(grants)
    args = importing(str(SAMPLE / "jamtland-2018.se"), str(SAMPLE / "jamtland-map.csv"))
    assert grants.json("sie", *args)["new"] == 7
    assert grants.json("sie", *args)["new"] == 0
    assert sie(grants, "reconcile", str(SAMPLE / "jamtland-2018.se"), "--grant", G, "--region", "23",
               "--dimension", "20").exit_code == 0
    assert "the history holds" in grants("verify").stdout
