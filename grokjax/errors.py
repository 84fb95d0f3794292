"""The one exception for bad input (grokjax.config re-exports it); no grokjax imports, so any module can raise it."""
from __future__ import annotations

import argparse
import sys


class ConfigError(ValueError):
    """A bad setting; its message is one line naming the flag and what is allowed."""


def check_allowed(flag: str, value, allowed) -> None:
    """Raises ConfigError (one line) unless `value` is one of `allowed` (names of --flag)."""
    if value not in allowed:
        raise ConfigError(f"--{flag}={value} is not allowed; choose one of: {', '.join(allowed)}")


def check_value(flag: str, value, ok: bool, allowed: str) -> None:
    """Raises ConfigError (one line) unless `ok`: --flag=value and what is allowed (e.g. "in [0, 1]");
    write `ok` as a comparison that NaN fails: `0 <= x <= 1`, not `not x < 0`."""
    if not ok:
        raise ConfigError(f"--{flag}={value} is not allowed; it must be {allowed}")


class OneLineParser(argparse.ArgumentParser):
    """argparse for the module entry points (inspect, merge): a usage error is one line, exit code 2."""

    def error(self, message: str):
        print(f"error: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(2)
