"""Measure `grants sie import` on a generated national year of SIE 4 files.

    python bench/sie_national.py --rows 1000000 --grant-rows 300000 --work /tmp/grants-sie

A fresh SQLite ledger gets Professionsmiljarden 2018 (allocated to the 21 regions by
population, a director and ``--decisions`` decisions per region), then one SIE 4 file per
region is written (code page 437, with #KSUMMA): ``--rows`` rows in all, ``--grant-rows``
of them the grant's cost rows (each voucher a cost row and its bank row; 2 % of the grant
rows are credits), the rest other costs. Each file is imported with `grants sie import`
as its own process, file by file, timed, its peak memory (RSS high-water mark, wait4)
its own. Then, in the same run:

- baseline: the store's raw batched write of the same number of events (a booking's
  `spent` and its `voucher-registered`, i.e. two per grant row) into a fresh SQLite
  store, with the library's own recorder calls in batches of 5 000 in one transaction
  (``ledger.library.load_into_empty_store``): no reading, no rules;

and it prints rows/s, the ratio baseline seconds / import seconds (aim: at least 0.5),
and the largest peak memory of an import (aim: under 300 MB). A second import of the
first file is timed as well (everything unchanged).
"""

from __future__ import annotations

import argparse
import datetime
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.import_national import measured  # noqa: E402  (a child process's own seconds and peak memory)

RUN_GRANTS = "import sys; from commands.cli import main; sys.argv[0] = 'grants'; main()"
G = "professionsmiljarden"
D = datetime.date
POPULATION = {"01": 2231, "03": 354, "04": 288, "05": 446, "06": 348, "07": 191, "08": 238,
              "09": 57, "10": 156, "12": 1304, "13": 315, "14": 1649, "17": 276, "18": 291,
              "19": 264, "20": 281, "21": 282, "22": 244, "23": 127, "24": 263, "25": 251}
SETUP = r'''
import sys
from bench.sie_national import setup
setup(sys.argv[1], int(sys.argv[2]))
'''
WRITE = r'''
import sys
from bench.sie_national import write_files
write_files(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
'''
BASELINE = r'''
import datetime, sys, uuid
from ledger.application import open_ledger
from ledger.decision import Decision
from ledger.library import load_into_empty_store
from ledger.voucher import Voucher

app = open_ledger(sys.argv[1])
to_stored = app.mapper.to_stored_event
count = int(sys.argv[2])
at = datetime.datetime.now(datetime.timezone.utc)
day = datetime.date(2018, 3, 1)
decision = uuid.uuid4()
with load_into_empty_store(app, sys.argv[1]) as write:
    stored, positions, position = [], [], 0
    for n in range(count // 2):
        spent = Decision.Spent(originator_id=decision, originator_version=n + 2, timestamp=at,
                               voucher=f"2018-A-{n}-1", year=2018, amount=100_00, booked_on=day,
                               object="9902", text="Lön", recorded_by="bench")
        index = Voucher.Registered(originator_id=uuid.uuid4(), originator_version=1, timestamp=at,
                                   originator_topic=Voucher.TOPIC, grant_id="professionsmiljarden",
                                   voucher=f"2018-A-{n}-1", decision_id="D", recorded_by="bench")
        stored += [to_stored(spent), to_stored(index)]
        positions += [position + 1, position + 2]
        position += 2
        if len(stored) >= 5000:
            write(stored, positions)
            stored, positions = [], []
    if stored:
        write(stored, positions)
app.close()
'''


def setup(db: str, per_region: int) -> None:
    """The grant, its 2018 agreement and allocation, a director and decisions in every region."""
    from ledger.application import GrantLedger
    from ledger.apportion import apportion
    from ledger.persistence import store_env
    from ledger.terms import Agreement, DecisionTerms
    from ledger.values import Amount

    app = GrantLedger(env=store_env(db))
    u = "bench"
    app.define_grant(G, "Professionsmiljarden", 2016, 2018, [["it-admin", "IT"]], "3", "9902", u)
    pot = Amount.kronor(10_000_000_000)
    app.sign_agreement(G, Agreement(2018, D(2018, 1, 20), [["stimulus", pot.ore]], [], D(2019, 2, 15), "SKL",
                                    "Socialstyrelsen", None, ""), u)
    shares = apportion(pot, POPULATION)
    app.allocate(G, 2018, "stimulus", shares, "by-population", u)
    for region, share in shares.items():
        app.authorise(G, region, f"Director {region}", "hsd", D(2015, 1, 1), None, u)
        each = Amount(share.ore // (per_region + 1))
        for n in range(per_region):
            app.decide(G, f"{region}-D{n:03d}", region, DecisionTerms(f"Director {region}", D(2017, 12, 1),
                       "Area", f"Activity {n}", "it-admin", {2018: each}), u)
    app.close()


def write_files(folder: str, rows: int, grant_rows: int, per_region: int, seed: int = 7) -> None:
    """One SIE 4 file and one map per region; the rows split by population."""
    from ledger.sie_lines import Checksum, split_fields

    rng = random.Random(seed)
    total = sum(POPULATION.values())
    for region, weight in POPULATION.items():
        mine = grant_rows * weight // total
        other = max(0, (rows - grant_rows) * weight // total)
        path = Path(folder) / f"region-{region}.se"
        with open(path, "w", encoding="cp437", newline="") as f, \
                open(Path(folder) / f"map-{region}.csv", "w", encoding="utf-8") as m:
            m.write("dimension,object,decision\n")
            for n in range(per_region):
                m.write(f"6,P{n:03d},{region}-D{n:03d}\n")
            crc = Checksum()

            def put(line: str, number: list[int] = [0]) -> None:
                f.write(line + "\r\n")
                if line.strip() not in ("{", "}"):
                    number[0] += 1
                    crc.add(split_fields(line, number[0]))

            f.write("#FLAGGA 0\r\n#KSUMMA\r\n")
            for line in ('#PROGRAM "grants bench" 1.0', "#FORMAT PC8", "#SIETYP 4", f'#FNAMN "Region {region}"',
                         "#RAR 0 20180101 20181231", '#DIM 6 Projekt', '#DIM 20 Statsbidrag'):
                put(line)
            booked: dict[int, int] = {}
            vernr = 0
            grant_left, other_left = mine, other
            while grant_left or other_left:
                vernr += 1
                day = D(2018, rng.randrange(1, 13), rng.randrange(1, 29)).strftime("%Y%m%d")
                if grant_left and (not other_left or rng.random() < mine / (mine + other)):
                    grant_left -= 1
                    n = rng.randrange(per_region)
                    ore = rng.randrange(100_00, 5_000_00)
                    if booked.get(n, 0) > 10_000_00 and rng.random() < 0.02:
                        ore = -min(booked[n] // 2, ore)  # a credit
                    booked[n] = booked.get(n, 0) + ore
                    objects = f'{{1 "4110" 20 "9902" 6 "P{n:03d}"}}'
                    account, text = "7010", "Lön"
                else:
                    other_left -= 1
                    ore = rng.randrange(100_00, 5_000_00)
                    objects, account, text = '{1 "4120"}', "5460", "Förbrukningsmaterial"
                amount = f"{ore // 100}.{ore % 100:02d}" if ore > 0 else f"-{-ore // 100}.{-ore % 100:02d}"
                bank = f"-{ore // 100}.{ore % 100:02d}" if ore > 0 else f"{-ore // 100}.{-ore % 100:02d}"
                put(f'#VER A {vernr} {day} "{text} {vernr}"')
                put("{")
                put(f"   #TRANS {account} {objects} {amount}")
                put(f"   #TRANS 1930 {{}} {bank}")
                put("}")
            f.write(f"#KSUMMA {crc.value}\r\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", default="/tmp/grants-sie-bench", help="folder for the ledger and the files")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--grant-rows", type=int, default=300_000)
    parser.add_argument("--decisions", type=int, default=40, help="decisions per region")
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    for old in work.iterdir():
        old.unlink()
    db, raw = work / "ledger.sqlite", work / "raw.sqlite"
    seconds, _, code, _, err = measured([sys.executable, "-c", SETUP, str(db), str(args.decisions)])
    assert code == 0, err
    print(f"set up 21 regions x {args.decisions} decisions in {seconds:.1f} s", flush=True)
    seconds, _, code, _, err = measured([sys.executable, "-c", WRITE, str(work), str(args.rows),
                                         str(args.grant_rows), str(args.decisions)])
    assert code == 0, err
    size = sum(p.stat().st_size for p in work.glob("*.se"))
    print(f"wrote 21 files in {seconds:.1f} s: {size / 1e6:.0f} MB", flush=True)
    took, peak, booked = 0.0, 0.0, 0
    for region in POPULATION:
        argv = [sys.executable, "-c", RUN_GRANTS, "--db", str(db), "--user", "bench", "--format", "json", "sie",
                "import", str(work / f"region-{region}.se"), "--grant", G, "--region", region, "--dimension", "20",
                "--map", str(work / f"map-{region}.csv")]
        seconds, rss, code, out, err = measured(argv)
        assert code == 0, err[-2000:]
        booked += int(out.split('"new": ')[1].split(",")[0])
        took += seconds
        peak = max(peak, rss)
    rows = args.rows
    print(f"import: {booked} bookings from {rows} rows in {took:.1f} s = {rows / took:,.0f} rows/s, "
          f"{booked / took:,.0f} bookings/s; peak memory {peak:.0f} MiB", flush=True)
    again, _, code, out, err = measured(argv)
    assert code == 0 and '"new": 0' in out, err[-2000:]
    print(f"again ({region}, nothing new): {again:.1f} s", flush=True)
    seconds, rss, code, _, err = measured([sys.executable, "-c", BASELINE, str(raw), str(2 * booked)])
    assert code == 0, err[-2000:]
    print(f"baseline: {2 * booked} events written raw in {seconds:.1f} s (peak {rss:.0f} MiB)", flush=True)
    print(f"ratio baseline/import: {seconds / took:.2f} (aim >= 0.5); peak memory {peak:.0f} MiB (aim < 300)")


if __name__ == "__main__":
    main()
