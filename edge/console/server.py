"""Starting the console: loopback by default, TLS required to listen anywhere else.

A console reachable from the network without TLS would send passwords and plates in clear
text, so a non-loopback address without a certificate and key is refused rather than warned
about.
"""

from __future__ import annotations

from pathlib import Path

from edge.config import EdgeConfig
from edge.config.allowlist import is_loopback
from edge.console.accounts import ACCOUNTS_FILE, Accounts
from edge.console.app import Console, create_app
from edge.console.data import Paths
from edge.errors import InputError


def accounts_path(config: EdgeConfig) -> Path:
    """The accounts file: in the data folder, beside reads.db."""
    return config.store.data_dir / ACCOUNTS_FILE


def check_bind(host: str, certfile: Path | None, keyfile: Path | None) -> None:
    if (certfile is None) != (keyfile is None):
        raise InputError("give both --tls-cert and --tls-key, or neither")
    if certfile is None and not is_loopback(host):
        raise InputError(
            f"refusing to listen on {host} without TLS: pass --tls-cert and --tls-key, "
            "or bind to 127.0.0.1"
        )
    for path in (certfile, keyfile):
        if path is not None and not path.is_file():
            raise InputError(f"{path}: not found")


def console_for(config: EdgeConfig, *, tls: bool) -> Console:
    return Console(Paths.of(config), Accounts(accounts_path(config)), secure_cookies=tls)


def serve(
    config: EdgeConfig,
    host: str = "127.0.0.1",
    port: int = 8080,
    certfile: Path | None = None,
    keyfile: Path | None = None,
) -> None:
    check_bind(host, certfile, keyfile)
    import uvicorn

    console = console_for(config, tls=certfile is not None)
    if not console.accounts.users():
        raise InputError(
            f"no console accounts in {console.accounts.path}: "
            "create one with `alpr-edge console users add NAME --role admin`"
        )
    uvicorn.run(
        create_app(console),
        host=host,
        port=port,
        ssl_certfile=str(certfile) if certfile else None,
        ssl_keyfile=str(keyfile) if keyfile else None,
        proxy_headers=False,
        server_header=False,
        log_level="info",
    )
