"""Punchout session lifecycle: creation, StartPage tokens, cart, transfer, event log."""
