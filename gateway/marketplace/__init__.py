"""The marketplace behind the gateway: the embedded catalog (and, later, order flow)."""
