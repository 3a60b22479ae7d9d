"""One executor interface for independent tasks: replications now, parameter sets later.

Tasks run serially, on local cores (``concurrent.futures`` process pool), or on a Dask cluster
(``distributed``, an optional extra: ``pip install 'cd7sim[dask]'``). Results always come back in
task order, and every task is deterministic given its inputs, so a parallel run is identical to a
serial one.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Protocol, TypeVar, overload

import numpy as np

from sim.inputs.errors import InputError
from sim.simulation.allocator import tune_memory

T = TypeVar("T")


Progress = Callable[[], None] | None
"""Called once per finished task (for a progress bar)."""
OnResult = Callable[[Any], None] | None
"""Called with each task's result as it comes back, in task order (for example to save it at once)."""


class Executor(Protocol):
    """Maps a picklable function over tasks, returning results in task order."""

    def map(self, function: Callable[[Any], T], tasks: Sequence[Any], on_done: Progress = None,
            on_result: OnResult = None) -> list[T]:
        ...


def _collect(results: Iterable[T], on_done: Progress, on_result: OnResult = None) -> list[T]:
    collected = []
    for result in results:
        collected.append(result)
        if on_result is not None:
            on_result(result)
        if on_done is not None:
            on_done()
    return collected


class SerialExecutor:
    """Runs tasks one after another in this process."""

    def map(self, function: Callable[[Any], T], tasks: Sequence[Any], on_done: Progress = None,
            on_result: OnResult = None) -> list[T]:
        return _collect((function(task) for task in tasks), on_done, on_result)


class LocalExecutor:
    """Runs tasks on local cores with a process pool.

    Parameters
    ----------
    workers : int
        Number of worker processes.
    """

    def __init__(self, workers: int) -> None:
        self.workers = workers

    def map(self, function: Callable[[Any], T], tasks: Sequence[Any], on_done: Progress = None,
            on_result: OnResult = None) -> list[T]:
        if len(tasks) <= 1 or self.workers <= 1:
            return SerialExecutor().map(function, tasks, on_done, on_result)
        with ProcessPoolExecutor(max_workers=min(self.workers, len(tasks)), initializer=tune_memory) as pool:
            return _collect(pool.map(function, tasks), on_done, on_result)


class DaskExecutor:
    """Runs tasks on a Dask cluster.

    Parameters
    ----------
    address : str
        Scheduler address, for example ``tcp://10.0.0.5:8786``.
    """

    def __init__(self, address: str) -> None:
        try:
            from distributed import Client
        except ImportError:
            raise InputError("--scheduler", address, "Dask is not installed: pip install 'cd7sim[dask]'") from None
        try:
            self._client = Client(address, timeout="10s", set_as_default=False)
        except (OSError, TimeoutError) as error:
            raise InputError("--scheduler", address, f"a reachable Dask scheduler is required ({error})") from None

    def map(self, function: Callable[[Any], T], tasks: Sequence[Any], on_done: Progress = None,
            on_result: OnResult = None) -> list[T]:
        futures = self._client.map(function, list(tasks), pure=False)
        return _collect((future.result() for future in futures), on_done, on_result)

    def close(self) -> None:
        """Disconnect from the scheduler."""
        self._client.close()


def local_cores() -> int:
    """Cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def make_executor(workers: int | None = None, scheduler: str | None = None) -> Executor:
    """The executor for a run.

    Parameters
    ----------
    workers : int, optional
        Local worker processes (default: every local core; 1 runs serially).
    scheduler : str, optional
        Address of a Dask scheduler; overrides ``workers``.
    """
    if scheduler:
        return DaskExecutor(scheduler)
    workers = local_cores() if workers is None else workers
    return SerialExecutor() if workers <= 1 else LocalExecutor(workers)


@overload
def chunks(items: np.ndarray, size: int) -> Iterable[np.ndarray]: ...
@overload
def chunks(items: Sequence[T], size: int) -> Iterable[Sequence[T]]: ...
def chunks(items: Sequence[T] | np.ndarray, size: int) -> Iterable[Sequence[T] | np.ndarray]:
    """Consecutive slices of ``items`` (a sequence or an array) of at most ``size`` elements."""
    return (items[start:start + size] for start in range(0, len(items), size))
