"""How tests drive the ledger: the `grants` command line as a user types it, and the
application service directly."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

from click.testing import CliRunner

from commands.cli import cli
from ledger.application import GrantLedger
from ledger.persistence import store_env
from ledger.values import Amount, Region

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "commands" / "data"
# the command line's own runner, for a test that starts `grants` as a separate process
RUN_GRANTS = "import sys; from commands.cli import main; sys.argv[0] = 'grants'; main()"

D = datetime.date
kr = Amount.kronor


class Grants:
    """Runs `grants` against one store, as a user would type it."""

    def __init__(self, db: str) -> None:
        self.db = db
        self.runner = CliRunner()

    def __call__(self, *args: str, fmt: str | None = None, code: int = 0, user: str = "anna"):
        argv = ["--db", self.db, "--user", user] + (["--format", fmt] if fmt else []) + list(args)
        result = self.runner.invoke(cli, argv, catch_exceptions=False)
        assert result.exit_code == code, (argv, result.stdout, result.stderr)
        if code:
            lines = result.stderr.strip().splitlines()
            assert lines and lines[0].startswith("error: ") and len(lines) <= 2, result.stderr
            assert "Traceback" not in result.output
        return result

    def json(self, *args: str):
        return json.loads(self(*args, fmt="json").stdout)

    def events(self) -> int:
        """How many events the store holds, read through the ledger itself."""
        app = ledger_at(self.db)
        try:
            return sum(1 for _ in app.read())
        finally:
            app.close()


def ledger_at(db: str) -> GrantLedger:
    """The application service on a store (an SQLite path or a PostgreSQL URL); close it after."""
    return GrantLedger(env=store_env(db))


def population_file(path, populations: dict[str, int]) -> None:
    """A population CSV listing all 21 regions: those given, the others with 0 people."""
    given = {Region.parse(r).code: n for r, n in populations.items()}
    path.write_text("region,population\n" + "".join(f"{r.code},{given.get(r.code, 0)}\n" for r in Region.all()),
                    encoding="utf-8")
