"""The read-only web view of a ledger (``grants serve``): :func:`web.app.create_app`."""
