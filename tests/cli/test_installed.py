"""The installed `grants` works away from the source folder (every package is in the wheel)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(sys.executable).with_name("grants")


@pytest.mark.skipif(not SCRIPT.exists(), reason=f"no installed grants script beside {sys.executable}")
def test_the_installed_command_runs_the_demo_from_another_folder(tmp_path):
    """`grants demo` of the installed script, run in an empty folder, imports only what was installed and succeeds."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "GRANTS_DB", "GRANTS_FORMAT")}
    done = subprocess.run([str(SCRIPT), "demo"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Jämtland" in done.stdout and (tmp_path / "grants.sqlite").exists()
