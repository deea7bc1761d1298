"""auditlab.io."""
