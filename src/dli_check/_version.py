"""The version of dli-check, written once: the package, records and hatch read it here."""

__version__ = "0.6.0"
