"""Every balance rule holds under random command sequences: the state machine of
``tests/machine.py`` against the reference model of ``tests/model.py``."""

from hypothesis import HealthCheck, settings

from tests.machine import LedgerMachine

LedgerMachine.TestCase.settings = settings(
    max_examples=80, stateful_step_count=40, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestLedgerRules = LedgerMachine.TestCase
