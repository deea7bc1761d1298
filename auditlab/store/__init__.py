"""auditlab.store."""
