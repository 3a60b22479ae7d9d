"""A light first-come-first-served pool of identical servers (slots or beds).

SimPy's ``Resource`` schedules an event for every request and release. Our patients know how
long they will hold a server the moment they get it, so a pool can instead keep, for each
server, the day it next becomes free, and answer a request at once: the patient starts when the
earliest server frees up (or on arrival), unless a latent event ends the wait first, in which
case the patient leaves the queue and takes no server. Asked in order of arrival, this is exact
first-come-first-served queueing with reneging, without any release events.
"""

from __future__ import annotations

import heapq
import math


class ServerPool:
    """``capacity`` identical servers, FIFO; ``None`` means unlimited.

    Parameters
    ----------
    capacity : int or None
        Number of servers.
    """

    def __init__(self, capacity: int | None) -> None:
        self.capacity = capacity
        self._free_from: list[float] = [-math.inf] * capacity if capacity else []
        self._last_arrival = -math.inf

    def start_day(self, arrival_day: float) -> float:
        """Day a patient arriving on ``arrival_day`` would start service (days).

        Requests to a limited pool must come in order of arrival (ties in any order); an
        unlimited pool serves everyone on arrival, in any order.

        Raises
        ------
        ValueError
            If ``arrival_day`` is earlier than a previous arrival.
        """
        if not self.capacity:
            return arrival_day
        if arrival_day < self._last_arrival - 1e-9:
            raise ValueError(f"arrivals out of order: {arrival_day} after {self._last_arrival}")
        self._last_arrival = max(self._last_arrival, arrival_day)
        return max(arrival_day, self._free_from[0])

    def occupy(self, until_day: float) -> None:
        """Give the earliest free server to the patient just served, until ``until_day``."""
        if self.capacity:
            heapq.heapreplace(self._free_from, until_day)
