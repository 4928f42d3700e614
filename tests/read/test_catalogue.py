"""The event catalogue: every stored topic has its class and kind, and an aggregate's
module is imported only for its own topics (never one a stored topic names)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ledger.events import CATALOGUE, MODULES, TOPIC_KINDS, kind_of

ROOT = Path(__file__).resolve().parents[2]


def _fresh(code: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_every_topic_has_its_class_and_every_class_its_kind():
    """The catalogue, loaded whole, holds exactly the topics of the table of kinds, each
    class declaring that topic and named by it."""
    assert set(CATALOGUE) == set(TOPIC_KINDS)
    for topic, cls in CATALOGUE.items():
        assert cls.TOPIC == topic
        event = object.__new__(cls)
        assert kind_of(event) == TOPIC_KINDS[topic]


def test_a_topic_imports_only_its_own_aggregates_module():
    """Asking for a decision's topic imports ledger.decision and no other aggregate's
    module; a topic of no aggregate (or a module's name) imports nothing and is not found."""
    out = _fresh("import sys\nfrom ledger.events import CATALOGUE\n"
                 "assert CATALOGUE.get('os:system') is None and CATALOGUE.get('grants:Nope.X/v1') is None\n"
                 "assert 'grants:os.X/v1' not in CATALOGUE\n"
                 "print(CATALOGUE.get('grants:Decision.Spent/v1').__qualname__)\n"
                 "assert CATALOGUE.get('grants:Decision.Nope/v1') is None\n"
                 "print(*sorted(m for m in sys.modules if m in " + repr(set(MODULES.values())) + "))")
    first, loaded = out.splitlines()
    assert first == "Decision.Spent"
    assert loaded == "ledger.decision"
