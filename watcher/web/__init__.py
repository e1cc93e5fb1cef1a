"""The self-service lookup page (SPEC §7)."""
