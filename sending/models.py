"""Models of sending: filled in by the issue that builds this area."""
