"""Time each page of the web view on a generated national ledger, as a ratio to a baseline.

    python bench/web.py --db /tmp/national.sqlite --decisions 6000 --bookings 80

The history is bench/national.py's (generated when the store is empty). The baseline, in the
same run, is reading and decoding every event from the store. Each page is asked over HTTP
in-process (Starlette's TestClient: the request opens its own ledger and Reader, reads,
renders the HTML), after one untimed request that brings the read models up to date; each
figure is the best of three (noise only ever adds time), printed as seconds and as a ratio
to the baseline. The aim: every page under 0.5 s. Beside it, "cold": the page's first
request with no kept state decoded yet in the process (as the first page after `grants
serve` starts; a server keeps what it decoded, see projections.persisted.shared).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from starlette.testclient import TestClient  # noqa: E402

from ledger.application import GrantLedger  # noqa: E402
from ledger.persistence import store_env  # noqa: E402
if str(Path(__file__).resolve().parent) not in sys.path:  # imported by path (the tests do), not run
    sys.path.append(str(Path(__file__).resolve().parent))
from aimlog import judged  # noqa: E402  (beside this script)
from projections.persisted.shared import DECODED  # noqa: E402
from web.app import create_app  # noqa: E402

G = "professionsmiljarden"
HERE = Path(__file__).resolve().parent


def national():
    spec = importlib.util.spec_from_file_location("bench_national", HERE / "national.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def best(fn, runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default="/tmp/grants-national.sqlite")
    parser.add_argument("--decisions", type=int, default=6000)
    parser.add_argument("--bookings", type=int, default=80, help="bookings per decision")
    parser.add_argument("--fresh", action="store_true", help="delete the store first")
    parser.add_argument("--skip", action="append", default=[], help="leave out the pages whose label has this")
    args = parser.parse_args()
    if args.fresh and os.path.exists(args.db):
        os.remove(args.db)
    app = GrantLedger(env=store_env(args.db))
    if not app.last_position():
        started = time.perf_counter()
        national().generate(app, args.decisions, args.bookings)
        print(f"generated {app.last_position()} events in {time.perf_counter() - started:.1f} s")
    events = app.last_position()
    baseline = best(lambda: sum(1 for _ in app.read()), runs=2)
    app.close()

    client = TestClient(create_app(args.db))

    def get(url: str) -> int:
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code, response.text[:300])
        return len(response.content)

    started = time.perf_counter()
    get("/")  # the read models catch up (or are built) once, untimed in the figures below
    first = time.perf_counter() - started
    rows = client.get(f"/g/{G}/2018/r/01?csv=commitments").text.splitlines()
    stockholm_decision = rows[1].split(",")[0]
    cut = events * 9 // 10
    pages = [
        ("grants", "/"),
        ("overview 2018 (21 regions)", f"/g/{G}/2018?on=2019-03-01"),
        ("overview 2018, balances CSV", f"/g/{G}/2018?csv=balances"),
        ("region-year Jämtland 2018", f"/g/{G}/2018/r/23?on=2019-03-01"),
        ("region-year Stockholm 2018", f"/g/{G}/2018/r/01?on=2019-03-01"),
        ("audit Jämtland 2018, now", f"/g/{G}/2018/audit?region=23&on=2019-03-01"),
        ("audit Stockholm 2018, as of position (90 %)", f"/g/{G}/2018/audit?region=01&position={cut}&on=2019-03-01"),
        (f"decision {stockholm_decision} (Stockholm)", f"/g/{G}/r/01/d/{stockholm_decision}"),
    ]
    print(f"\nstore: {args.db}: {events} events; first request (read models brought up to date): {first:.1f} s")
    print(f"{'page':52} {'KiB':>7} {'cold s':>8} {'seconds':>9} {'x baseline':>11}  aim (< 0.5 s)")
    print(f"{'baseline: read and decode every event':52} {'':>7} {'':>8} {baseline:9.3f} {1:11.3f}")
    for label, url in pages:
        if any(s in label for s in args.skip):
            continue
        DECODED.clear()  # cold: no kept state decoded yet, as for the first page after `grants serve` starts
        started = time.perf_counter()
        size = get(url)
        cold = time.perf_counter() - started
        seconds = best(lambda: get(url))
        verdict = "met" if seconds < 0.5 else "NOT met"
        print(f"{label:52} {size / 1024:7.0f} {cold:8.3f} {seconds:9.3f} {seconds / baseline:11.3f}  {verdict}")
        judged("web", f"page: {label} (cold {cold:.3f} s)", seconds, seconds / baseline, "< 0.5 s", seconds < 0.5)


if __name__ == "__main__":
    main()
