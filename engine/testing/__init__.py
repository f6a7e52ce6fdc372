"""Test tools for desks and the project: the snapshot kit (a pytest plugin)."""
