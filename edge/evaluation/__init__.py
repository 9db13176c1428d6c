"""Measuring the shipped models on the development data (`alpr-edge eval`)."""
