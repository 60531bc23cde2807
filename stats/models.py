"""Models of stats: filled in by the issue that builds this area."""
