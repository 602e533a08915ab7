"""Per-client-address limit on failed sign-ins (complements the per-account lock-out in ``service``).

In-memory and per process: it slows password spraying across many usernames from one address. The
per-account lock-out is stored in the database and survives restarts.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable


class IpLimiter:
    def __init__(self, max_failures: int, window_seconds: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failures = max_failures
        self.window = window_seconds
        self._clock = clock
        self._fails: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _trim(self, q: deque[float], now: float) -> None:
        while q and now - q[0] >= self.window:
            q.popleft()

    def retry_after(self, ip: str) -> int | None:
        """Seconds until this address may try again, or None when it is not blocked."""
        now = self._clock()
        with self._lock:
            q = self._fails.get(ip)
            if not q:
                return None
            self._trim(q, now)
            if len(q) < self.max_failures:
                return None
            return max(1, math.ceil(self.window - (now - q[0])))

    def failed(self, ip: str) -> None:
        now = self._clock()
        with self._lock:
            q = self._fails.setdefault(ip, deque())
            self._trim(q, now)
            q.append(now)
            if len(self._fails) > 10_000:  # bound memory: drop addresses with no recent failures
                for key in [k for k, v in self._fails.items() if not v or now - v[-1] >= self.window]:
                    del self._fails[key]
