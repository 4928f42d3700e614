"""The grant ledger's domain model: values, events, aggregates and the application service.

Pure: no I/O beyond the event store the application is given, and no command line.
"""
