"""Fixtures of the API tests live in tests/conftest.py (shared with the layers tests)."""
