"""Test suite of switch-agent (pytest; see docs/development.md)."""
