"""The self-service lookup page (docs/lookup-page.md)."""
