"""Running the unit as a service: where its files are, the systemd notify protocol, health.

Between the query layer and the CLI: it may use everything below (the stores, sharing, the
audit chain) to tell whether the unit is healthy, and only the CLI imports it.
"""
