"""auditlab.filters."""
