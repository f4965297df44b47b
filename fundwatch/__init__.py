"""fundwatch: daily audit of the Hunan Family Planning Association's project money."""

__version__ = "0.1.0"
