"""The running unit's sharing side, assembled: sharing, agency queries and allow-list reload.

`alpr-edge run` asks for it with `unit_sharing(config)`; without a [sharing] table there is
none, and nothing leaves the device.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

from edge.config import EdgeConfig
from edge.query.ledger import QueryLedger
from edge.query.policy import load_policy
from edge.query.reads import StoreReads
from edge.query.responder import QueryResponder
from edge.runtime.store import ReadStore
from edge.share.mqtt.link import IncomingQuery
from edge.share.reload import AllowListWatcher
from edge.share.service import Sharing

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
        retention=timedelta(days=sharing.retention_days),
    )

    def on_query(query: IncomingQuery) -> None:
        responder.handle(
            query.agency_id, query.payload, query.response_topic, query.correlation_data
        )

    sharing.set_query_handler(on_query)
    log.info("answering agency queries under policy %s (%s)", policy.version, policy_path)
    return responder


@contextlib.contextmanager
def unit_sharing(config: EdgeConfig, store_dir: Path) -> Iterator[Sharing | None]:
    """Sharing from the [sharing] table, started with query answering and allow-list reload;
    stopped (queue drained for a moment, links closed) on leaving. None without the table."""
    if config.sharing is None:
        yield None
        return
    sharing = Sharing(config.sharing, store_dir, retention_days=config.store.retention_days)
    with contextlib.ExitStack() as stack:
        store = ReadStore(store_dir)
        stack.callback(store.close)
        attach_queries(sharing, store)  # before start: links subscribe as they connect
        sharing.start()
        stack.callback(sharing.close)
        # Allow-list edits apply within seconds; every agency gets a drift alert.
        watcher = AllowListWatcher(sharing)
        watcher.start()
        stack.callback(watcher.stop)
        yield sharing
