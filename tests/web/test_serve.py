"""`grants serve` as a user runs it: a real process serving the view on loopback until stopped."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request

from click.testing import CliRunner

from commands.cli import cli
from tests.drivers import RUN_GRANTS
from tests.web.browser import free_port


def _get(url: str, method: str = "GET") -> tuple[int, str]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method, data=b"" if method != "GET" else None),
                                    timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_serve_answers_on_loopback_until_stopped(sealed):
    """`grants serve --port P` serves the view on 127.0.0.1 (GET answered, POST 405) and stops on Ctrl-C with exit 0."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", RUN_GRANTS, "--db", sealed.db, "serve", "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status, body = _get(f"http://127.0.0.1:{port}/g/professionsmiljarden/2018")
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, process.stderr.read()
                time.sleep(0.2)
        assert status == 200 and "23 Jämtland" in body
        assert _get(f"http://127.0.0.1:{port}/", method="POST")[0] == 405
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert f"at http://127.0.0.1:{port}/" in err and "Traceback" not in err


def test_serve_refuses_a_store_that_is_not_a_ledger(tmp_path):
    """`grants serve` on another application's database says so in one error line (exit 2) and serves nothing."""
    path = tmp_path / "other.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY)")
    result = CliRunner().invoke(cli, ["--db", str(path), "serve", "--port", str(free_port())])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ") and "is not a grants ledger" in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_serve_refuses_a_missing_store(tmp_path):
    """`grants serve` on a file that is not there fails with one error line and creates nothing."""
    target = tmp_path / "absent.sqlite"
    result = CliRunner().invoke(cli, ["--db", str(target), "serve", "--port", str(free_port())])
    assert result.exit_code != 0 and result.stderr.startswith("error: "), result.output
    assert not target.exists()
