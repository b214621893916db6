"""Who may punch out, as whom, with what rights: buyers, users, credentials."""
