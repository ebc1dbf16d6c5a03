"""Turn SIGINT/SIGTERM into a stop event for the simulator command lines."""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Iterator
from types import FrameType

logger = logging.getLogger(__name__)


@contextlib.contextmanager
def stop_on_signals(stop_event: threading.Event) -> Iterator[threading.Event]:
    """Set `stop_event` on SIGINT or SIGTERM while the block runs.

    Outside the main thread signals cannot be caught; the event is then only
    set by its owner.

    Args:
        stop_event: Event to set when a signal arrives.

    Yields:
        The same event.
    """

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        logger.info("signal %s: stopping", signal.Signals(signum).name)
        stop_event.set()

    if threading.current_thread() is not threading.main_thread():
        yield stop_event
        return
    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop_event
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
