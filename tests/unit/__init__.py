"""Unit tests: codecs, models and state machines, no I/O."""
