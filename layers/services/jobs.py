"""Long analyses as background jobs, so that no request ever computes one.

A request that needs a result which is not ready yet starts (or finds) the job for it and is told
to come back: ``Computing`` carries the job's state, current step and elapsed time, and the API
answers it with 202 and ``Retry-After``. One worker thread runs the jobs one at a time, so two
cold analyses never fight over the cores the server answers with. A job is keyed by what it
computes (including the versions of its input layers), so asking again finds the same job, and a
change of the data starts a new one. A failed job raises its error once, to the next asker, and
is forgotten, so the one after that tries again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, TypeVar

from layers.errors import OnemapError

logger = logging.getLogger(__name__)

T = TypeVar("T")
Progress = Callable[[str], None]
RETRY_AFTER_S = 2
"""How long a client is asked to wait before asking again for a result being computed (s)."""
KEEP_JOBS = 32
"""Finished jobs remembered (their results stay cached in the services, not here)."""


class Computing(OnemapError):
    """The result is being computed in the background: ask again in ``RETRY_AFTER_S`` seconds."""

    def __init__(self, job: JobStatus) -> None:
        super().__init__(f"{job.label}: computing in the background ({job.step}, {job.elapsed_s:.0f} s so far); ask again in {RETRY_AFTER_S} s")
        self.job = job


@dataclass
class JobStatus:
    """What a caller may see of a job."""

    label: str
    state: str = "queued"  # queued | running | done | failed
    step: str = "等待 queued"
    started: float = field(default_factory=time.monotonic)

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self.started

    def as_dict(self) -> dict[str, Any]:
        return {"status": "computing", "job": self.label, "state": self.state, "step": self.step, "elapsed_s": round(self.elapsed_s, 1), "retry_after_s": RETRY_AFTER_S}


@dataclass
class _Job:
    status: JobStatus
    future: Future[Any]


class Jobs:
    """The background jobs of one server. Thread-safe."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="onemap-job")
        self._lock = threading.Lock()
        self._jobs: OrderedDict[Hashable, _Job] = OrderedDict()

    def result(self, key: Hashable, label: str, compute: Callable[[Progress], T], *, wait_s: float = 0.0, once: bool = False) -> T:
        """The finished result of the job ``key``; else start it (once) and raise ``Computing``.
        ``compute`` gets a progress callback that names the current step. ``wait_s``: how long
        (s) the caller waits for a job that finishes quickly before being told to come back (the
        job still runs on the job thread, never the caller's). ``once``: a job that makes
        something (a stored scenario) is forgotten once its result is given, so the same request
        made again later makes a new one."""
        with self._lock:
            job = self._jobs.get(key)
            if job is None:
                status = JobStatus(label)

                def run() -> Any:
                    status.state, status.started = "running", time.monotonic()

                    def progress(step: str) -> None:
                        status.step = step

                    try:
                        value = compute(progress)
                    except BaseException:
                        status.state = "failed"
                        raise
                    status.state = "done"
                    logger.info("%s: done in %.1f s", label, status.elapsed_s)
                    return value

                job = _Job(status, self._pool.submit(run))
                self._jobs[key] = job
                while len(self._jobs) > KEEP_JOBS:
                    oldest_key, oldest = next(iter(self._jobs.items()))
                    if not oldest.future.done():
                        break
                    del self._jobs[oldest_key]
        if wait_s > 0:
            wait([job.future], timeout=wait_s)
        if not job.future.done():
            raise Computing(job.status)
        error = job.future.exception()
        if error is not None or once:
            with self._lock:
                if self._jobs.get(key) is job:
                    del self._jobs[key]  # the next request tries again (or makes a new one)
        if error is not None:
            raise error
        return job.future.result()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
