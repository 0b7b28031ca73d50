"""Work that follows events in a thread of its own, never inside a request: ``Coalescer`` runs a
function soon after it is poked, once for a burst of pokes, one run at a time."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

logger = logging.getLogger(__name__)


class Coalescer:
    """Runs ``work`` in one background thread ``delay_s`` after a ``poke`` — pokes that come
    meanwhile or while it runs make one more run, not one each. A failing run is logged and the
    thread carries on."""

    def __init__(self, name: str, work: Callable[[], object], *, delay_s: float = 0.0) -> None:
        self.work, self.delay_s = work, delay_s
        self._poked, self._stop = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def poke(self) -> None:
        self._poked.set()

    def close(self) -> None:
        self._stop.set()
        self._poked.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            self._poked.wait()
            if self._stop.is_set() or self._stop.wait(self.delay_s):
                return
            self._poked.clear()
            try:
                self.work()
            except Exception:  # the thread must outlive one bad run; the error is logged
                if self._stop.is_set():
                    return  # shutting down: the store was closed under the run
                logger.exception("%s failed", self._thread.name)
