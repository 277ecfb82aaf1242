"""contactmerge: one profile per person, with atomic, audited, reversible merges."""

__version__ = "0.1.0"
