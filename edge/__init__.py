"""ALPR edge unit: reads plates on the device and shares them only through the egress gate."""

__version__ = "0.1.0"
