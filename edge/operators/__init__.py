"""What operators, not developers, use: allow-list editing, hot reload, transparency reports."""
