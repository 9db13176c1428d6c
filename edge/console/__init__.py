"""The operator and auditor console: a browser front end to the unit's stores and audit log.

It runs as its own process (`alpr-edge console`), beside the reader. It never imports the code
that sends data off the device (edge.share, edge.query: a test checks): it reads the stores
and the audit log, and edits only through the audited allow-list edit, hotlist import and
legal holds. Every look at a plate is an audited access, written before the plate is shown.
"""
