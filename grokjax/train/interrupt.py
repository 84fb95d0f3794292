"""Ctrl-C / SIGTERM during training: stop at the next evaluation point, checkpointed.

A signal arriving in the middle of a compiled chunk cannot save that chunk's state (its
input buffers are donated to the call), so the first SIGINT or SIGTERM (what SLURM sends
before a time limit) only asks the host loop to stop: it finishes the chunk in flight,
checkpoints it and raises KeyboardInterrupt. A second signal stops at once, losing the
work since the last checkpoint.
"""
from __future__ import annotations

import contextlib
import signal
import sys
import threading

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequest:
    """Set by the first SIGINT/SIGTERM while `stop_at_next_checkpoint()` is active."""

    def __init__(self) -> None:
        self.requested = False

    def __bool__(self) -> bool:
        return self.requested

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt("stopped at once: the chunk in flight was not checkpointed; "
                                    "rerun the same command to resume from the last checkpoint")
        self.requested = True
        print(f"\n{signal.Signals(signum).name}: stopping after the current chunk, with a checkpoint; "
              "send it again to stop at once", file=sys.stderr, flush=True)


@contextlib.contextmanager
def stop_at_next_checkpoint():
    """Yields a StopRequest that the first SIGINT/SIGTERM sets (the main thread only: Python
    delivers signals there; elsewhere the request is never set)."""
    stop = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {s: signal.signal(s, stop._handle) for s in _SIGNALS}
    try:
        yield stop
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
