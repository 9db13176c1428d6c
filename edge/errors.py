"""Errors that end a command with a clear message and an exit code that says what went wrong."""

from __future__ import annotations

from pathlib import Path

EXIT_OK = 0
EXIT_FAILURE = 1
# Bad input: an unreadable file or URL, a missing camera, an invalid config or argument.
EXIT_BAD_INPUT = 2
# `alpr-edge run`: the source was read only in part (corrupt frames, a truncated file); what
# could be read was read and stored.
EXIT_PARTIAL = 3


class EdgeError(Exception):
    """An error the CLI reports as one line, without a stack trace."""

    exit_code = EXIT_FAILURE


class InputError(EdgeError):
    """Something the user gave us (a path, a URL, an argument) cannot be used."""

    exit_code = EXIT_BAD_INPUT


class ConfigError(InputError):
    """A configuration file is missing or invalid; names the file, the key and the reason."""

    def __init__(self, file: str | Path, key: str | None, reason: str) -> None:
        self.file = str(file)
        self.key = key
        self.reason = reason
        where = f"{self.file}: {key}" if key else self.file
        super().__init__(f"{where}: {reason}")


class ModelError(InputError):
    """A model file is missing, corrupt or does not keep the contract the code expects."""

    def __init__(self, file: str | Path, reason: str) -> None:
        self.file = str(file)
        self.reason = reason
        super().__init__(f"model {self.file}: {reason}")
