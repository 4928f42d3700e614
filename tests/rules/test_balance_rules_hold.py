"""Every balance rule holds under random command sequences: the state machine of
``tests/machine.py`` against the reference model of ``tests/model.py``."""

from tests.machine import LedgerMachine, machine_test

TestLedgerRules = machine_test(LedgerMachine, 80, 40)
