"""What the tamper tests share (test_tamper_*.py): plain SQL on a ledger's database behind
its back (`Raw`), the history they tamper with, and the command line they run."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from tests.drivers import Grants
from tests.jamtland import G
from tests.jamtland import history_with_a_sealed_report


class Raw:
    """Plain SQL on a ledger's database, behind the ledger's back."""

    def __init__(self, target: str) -> None:
        self.postgres = target.startswith("postgresql://")
        if self.postgres:
            import psycopg

            url = urlsplit(target)
            self.conn = psycopg.connect(target.split("?")[0], autocommit=True)
            self.conn.execute(f'SET search_path TO "{parse_qs(url.query)["schema"][0]}"')
            self.table, self.key = "grants_events", "notification_id"
        else:
            import sqlite3

            self.conn = sqlite3.connect(target, isolation_level=None)
            self.table, self.key = "stored_events", "rowid"

    def run(self, sql: str, params: tuple = ()) -> list[tuple]:
        sql = sql.replace("EVENTS", self.table).replace("POS", self.key)
        cursor = self.conn.execute(sql.replace("?", "%s") if self.postgres else sql, params)
        return [tuple(r) for r in cursor.fetchall()] if cursor.description else []

    def change(self, sql: str, params: tuple = ()) -> int:
        """Run a write; how many rows it changed."""
        cursor = self.conn.execute(sql.replace("?", "%s") if self.postgres else sql, params)
        return cursor.rowcount

    def events(self) -> list[tuple]:
        return self.run("SELECT POS, originator_id, originator_version, topic, state FROM EVENTS ORDER BY POS")

    def close(self) -> None:
        self.conn.close()


def _history(target: str) -> tuple[Grants, str]:
    """A ledger with bookings, a reversal, an amendment and a sealed report; and its digest."""
    grants = Grants(target)
    history_with_a_sealed_report(grants)
    grants("spend", G, "--decision", "JH-PM-03", "--year", "2018", "--amount", "500000",
           "--booked-on", "2018-10-01", "--object", "9902", "--voucher", "V3")
    digest = grants("verify").stdout.splitlines()[0].split("digest ")[-1].strip()
    return grants, digest


def grants_cli():
    from commands.cli import cli

    return cli
