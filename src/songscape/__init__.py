"""songscape: listen to a music catalog and make it navigable."""

__version__ = "0.1.0"
