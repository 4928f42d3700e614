"""The docs are executable: the tutorial's commands give exactly the output it shows."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from click.testing import CliRunner

from commands.cli import cli

DOCS = Path(__file__).parent.parent / "docs"


def console_steps(text: str) -> list[tuple[str, list[str]]]:
    """(command, expected output lines) for every `$ grants` line in ```console blocks."""
    steps: list[tuple[str, list[str]]] = []
    for block in re.findall(r"```console\n(.*?)```", text, flags=re.S):
        lines = block.rstrip("\n").split("\n")
        i = 0
        while i < len(lines):
            command = [lines[i]]
            while command[-1].endswith("\\"):
                i += 1
                command.append(lines[i])
            i += 1
            output = []
            while i < len(lines) and not lines[i].startswith("$ "):
                output.append(lines[i])
                i += 1
            steps.append((" ".join(c.rstrip("\\").strip() for c in command)[2:], output))
    return steps


def test_tutorial_replays_exactly(tmp_path):
    """Every command of docs/tutorial.md prints what the page shows, and fails only where it shows an error."""
    steps = console_steps((DOCS / "tutorial.md").read_text(encoding="utf-8"))
    assert len(steps) > 20
    env = {"GRANTS_DB": str(tmp_path / "tutorial.sqlite"), "GRANTS_USER": "controller"}
    for command, expected in steps:
        argv = shlex.split(command)
        assert argv[0] == "grants"
        result = CliRunner(env=env).invoke(cli, argv[1:])
        shown_error = bool(expected) and expected[0].startswith("error:")
        assert (result.exit_code != 0) == shown_error, (command, result.output)
        assert result.output.rstrip("\n").split("\n") == (expected or [""]), command
