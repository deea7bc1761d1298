"""auditlab.testing."""
