"""Sharing under California's SB 34: the allow-list, the one egress gate, the durable outbox,
the MQTT transport (the only paho-mqtt importer), the tamper-evident audit log and retention.

The pipeline uses `edge.share.service.Sharing`; see docs/sharing.md for topics and documents.
"""
