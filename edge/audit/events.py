"""Every kind of audit row and every decision, named once.

The audit log is read by auditors and by `alpr-edge audit prove`/`report`, which count rows by
these names, so a typo in a free string would hide an event from them. `AuditEvent` refuses any
name that is not listed here. The values are what the log stores: never rename one.
"""

from __future__ import annotations

from enum import Enum

# Who the unit itself is, in the audit log's `username` column.
SYSTEM_USER = "alpr-edge"


class Event(str, Enum):
    """What happened."""

    # Data leaving the unit, and what enforcing the allow-list did to queued data.
    SHARE = "share"
    DROP = "drop"
    # Broker connections (authorised by the egress gate).
    CONNECT = "connect"
    CONNECT_FAILED = "connect_failed"
    DISCONNECT = "disconnect"
    # The sharing configuration: the allow-list and the [sharing] settings put in force or
    # refused, and an operator's edit of the allow-list file.
    CONFIG_LOAD = "config_load"
    CONFIG_REFUSED = "config_refused"
    SETTINGS_LOAD = "settings_load"
    ALLOWLIST_CHANGE = "allowlist_change"
    # A hotlist import, done or refused by the Values Act screen (edge.audit.hotlist_screen).
    HOTLIST_IMPORT = "hotlist_import"
    # Accesses to the stored reads: a local search, an agency's query.
    SEARCH = "search"
    QUERY = "query"
    # Retention and legal holds.
    PURGE = "purge"
    LEGAL_HOLD = "legal_hold"
    LEGAL_HOLD_RELEASE = "legal_hold_release"
    # Accesses to the audit log itself (CJIS 5.4.1.1: reading the audit log is audited).
    AUDIT_VERIFY = "audit_verify"
    AUDIT_EXPORT = "audit_export"
    AUDIT_REPORT = "audit_report"
    # The browser console (edge.console): who logged in, failed to, or logged out; an audit
    # log page viewed; a hotlist entry imported or expired from it.
    CONSOLE_LOGIN = "console_login"
    CONSOLE_LOGIN_FAILED = "console_login_failed"
    CONSOLE_LOGOUT = "console_logout"
    AUDIT_BROWSE = "audit_browse"
    HOTLIST_CHANGE = "hotlist_change"

    def __str__(self) -> str:
        return self.value


class Decision(str, Enum):
    """What the unit decided about it."""

    ALLOWED = "allowed"
    REFUSED = "refused"
    DROPPED = "dropped"
    DONE = "done"
    FAILED = "failed"

    def __str__(self) -> str:
        return self.value
