"""auditlab.investigations."""
