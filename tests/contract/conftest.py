"""The contract tests run against the five services as OS processes, like the end-to-end tests."""

from tests.e2e.conftest import platform  # noqa: F401  (the fixture, shared)
