"""aicommons: an open AI public-service platform."""

__version__ = "0.1.0"
