"""Shared helpers for tests and smoke scripts (local server, CLI subprocess runner, smoke harness)."""
