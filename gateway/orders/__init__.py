"""Order intake: durable, exactly once, matched to the punchout it came from."""
