"""The README's picture of the web view: a small national history (bench/national.py's generator,
21 regions), served and photographed in headless Chromium.

    .venv/bin/python -m tests.screenshots            # writes docs/img/web-overview.png
"""

from __future__ import annotations

import argparse
import importlib.util
import tempfile
from pathlib import Path

from ledger.application import GrantLedger
from ledger.persistence import store_env
from tests.web.browser import chromium, missing_browser, serving

ROOT = Path(__file__).resolve().parent.parent


def national(db: str, decisions: int = 1500, bookings: int = 3) -> None:
    """A small national history through bench/national.py's generator."""
    spec = importlib.util.spec_from_file_location("bench_national", ROOT / "bench" / "national.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    app = GrantLedger(env=store_env(db))
    try:
        module.generate(app, decisions, bookings)
    finally:
        app.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", default=str(ROOT / "docs" / "img" / "web-overview.png"))
    args = parser.parse_args()
    why = missing_browser()
    if why:
        raise SystemExit(f"error: {why}")
    with tempfile.TemporaryDirectory(prefix="grants-shot-") as work:
        db = str(Path(work) / "national.sqlite")
        national(db)
        with serving(db) as site, chromium(1440, 1000) as browser:
            browser.get(f"{site}/g/professionsmiljarden/2018?on=2019-03-01")
            Path(args.output).parent.mkdir(parents=True, exist_ok=True)
            browser.save_screenshot(args.output)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
