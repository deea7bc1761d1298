"""auditlab.cli."""
