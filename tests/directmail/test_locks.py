"""The lock files pin every dependency pyproject.toml names.

`make run` and `make test` install from requirements/*.lock, not from pyproject.toml: a dependency added
to pyproject.toml without `make lock` works in the venv of whoever added it and breaks every fresh one.
"""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _name(requirement: str) -> str:
    """The normalized project name of a requirement ('psycopg[binary]>=3.2' -> 'psycopg')."""
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement.strip())
    assert match, requirement
    return re.sub(r"[-_.]+", "-", match.group(0)).lower()


def _pinned(lock: str) -> set[str]:
    names = set()
    for line in (ROOT / "requirements" / lock).read_text().splitlines():
        if "==" in line and not line.startswith((" ", "#")):
            names.add(_name(line.split("==")[0]))
    return names


def test_every_dependency_is_locked():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    base = _pinned("base.lock")
    test = _pinned("test.lock")
    runtime = {_name(r) for r in project["dependencies"]}
    testing = {_name(r) for r in project["optional-dependencies"]["test"]}
    assert runtime - base == set(), "run `make lock`: base.lock lacks these"
    assert (runtime | testing) - test == set(), "run `make lock`: test.lock lacks these"
