"""Fixtures every test package may use."""

from tests.faults import small_disk  # noqa: F401 - a fixture: a small filesystem to fill
