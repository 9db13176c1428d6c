"""Plugging the query responder into a running unit's sharing side."""

from __future__ import annotations

import logging
from datetime import timedelta

from edge.query.ledger import QueryLedger
from edge.query.policy import load_policy
from edge.query.reads import StoreReads
from edge.query.responder import QueryResponder
from edge.share.sharing import Sharing
from edge.share.transport import IncomingQuery
from edge.store import ReadStore

log = logging.getLogger(__name__)

LEDGER_FILE = "query-ledger.sqlite"


def attach_queries(sharing: Sharing, store: ReadStore) -> QueryResponder | None:
    """Answer queries read on every allow-listed agency's connection; call before `start()`.

    Without `[sharing] query_policy` nothing subscribes to the query topics: no published
    policy, no queries (fail closed). An invalid policy file raises ConfigError.
    """
    policy_path = sharing.settings.query_policy
    if policy_path is None:
        log.info("no [sharing] query_policy: agency queries are not read")
        return None
    policy = load_policy(policy_path)
    responder = QueryResponder(
        gate=sharing.gate,
        policy=policy,
        ledger=QueryLedger(sharing.settings.data_dir / LEDGER_FILE, policy.max_request_age),
        reads=StoreReads(store),
        retention=timedelta(days=sharing.settings.retention_days),
    )

    def on_query(query: IncomingQuery) -> None:
        responder.handle(
            query.agency_id, query.payload, query.response_topic, query.correlation_data
        )

    sharing.set_query_handler(on_query)
    log.info("answering agency queries under policy %s (%s)", policy.version, policy_path)
    return responder
