"""Charter: a contract-powered event collector."""

__version__ = "0.1.0"
