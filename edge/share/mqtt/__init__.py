"""MQTT: the only sub-package that imports paho-mqtt (a test checks every import).

`link` holds the unit's connections to allow-listed agency brokers, fed only by the egress
gate's outbox; `client` the agency-side query client of `alpr-edge query`.
"""
