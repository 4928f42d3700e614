"""Re-run every `$ grants` command of docs/tutorial.md and write its real output back.

Run after a change that alters what a command prints: `python docs/refresh_tutorial.py`.
tests/cli/test_docs.py fails whenever the page and the code disagree.
"""

from __future__ import annotations

import shlex
import sys
import tempfile
from pathlib import Path

from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from commands.cli import cli  # noqa: E402

PAGE = Path(__file__).with_name("tutorial.md")


def refresh(text: str, db: str) -> str:
    env = {"GRANTS_DB": db, "GRANTS_USER": "controller"}
    lines, out, in_console, i = text.splitlines(), [], False, 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if line.startswith("```"):
            in_console = line.startswith("```console")
            out.append(line)
            continue
        if not in_console:
            out.append(line)
            continue
        if not line.startswith("$ grants"):
            continue  # an old output line: replaced below
        command = [line]
        while command[-1].endswith("\\"):
            command.append(lines[i])
            i += 1
        out.extend(command)
        argv = shlex.split(" ".join(c.rstrip("\\").strip() for c in command)[2:])
        result = CliRunner(env=env).invoke(cli, argv[1:])
        out.extend(result.output.rstrip("\n").splitlines())
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        PAGE.write_text(refresh(PAGE.read_text(encoding="utf-8"), f"{tmp}/tutorial.sqlite"),
                        encoding="utf-8")
    print(f"refreshed {PAGE}")
