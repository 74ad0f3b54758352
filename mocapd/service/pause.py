"""A fault of the machine, not of a job (full disk, read-only outbox): the work waits until a probe passes.

No attempt of any job is used while paused; the probe is tried after a wait that doubles at each
failed try, so a fault that lasts costs neither CPU nor a flood of log lines.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

# Longest wait between two tries of the probe.
MAX_WAIT_SECONDS = 600.0

Probe = Callable[[], str | None]


class EnvironmentPause:
    """The machine's current fault, its probe and the time of the next try; safe to use from any thread."""

    def __init__(self, first_wait: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.first_wait = first_wait
        self.clock = clock
        self._lock = threading.Lock()
        self._cleared = threading.Event()
        self._cleared.set()
        self.reason: str | None = None
        self._probe: Probe | None = None
        self._wait = first_wait
        self._next_try = 0.0

    def hold(self, reason: str, probe: Probe) -> None:
        """Pause the work for `reason` until `probe` returns None; a repeat of the fault waits longer."""
        with self._lock:
            if self.reason is None:
                log.warning("paused: %s (tried again in %g s)", reason, self._wait)
            self.reason = reason
            self._probe = probe
            self._next_try = self.clock() + self._wait
            self._wait = min(self._wait * 2, MAX_WAIT_SECONDS)
            self._cleared.clear()

    def poll(self) -> bool:
        """Try the probe when its time has come; True while still paused."""
        with self._lock:
            if self.reason is None or self._probe is None:
                return False
            if self.clock() < self._next_try:
                return True
            problem = self._probe()
            if problem is not None:
                self._next_try = self.clock() + self._wait
                self._wait = min(self._wait * 2, MAX_WAIT_SECONDS)
                return True
            log.info("resumed: %s has passed", self.reason)
            self.reason, self._probe = None, None
            self._cleared.set()
            return False

    def succeeded(self) -> None:
        """The work went through after a pause: the next fault starts again from the first wait."""
        with self._lock:
            if self.reason is None:
                self._wait = self.first_wait

    def wait(self, stop: threading.Event, step: float = 0.2) -> bool:
        """Block until the fault passes (True) or `stop` is set (False), trying the probe on its schedule."""
        while self.poll():
            if stop.wait(step):
                return False
        return not stop.is_set()
