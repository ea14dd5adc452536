"""nlpkit's version (a module of its own: what a run records, importable from anywhere)."""

__version__ = "0.1.0"
