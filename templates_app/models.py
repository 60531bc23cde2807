"""Models of templates_app: filled in by the issue that builds this area."""
