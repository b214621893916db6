"""The support console's services: agents, the audit log, and what agents look at."""
