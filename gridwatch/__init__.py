"""gridwatch: city camera video turned into handled cases."""

__version__ = "0.1.0"
