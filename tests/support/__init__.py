"""Helpers shared by the test suite's fixtures (infrastructure discovery and provisioning)."""
