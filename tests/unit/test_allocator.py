"""The allocator of a simulating process (sim.simulation.allocator): no huge-page requests, and freed memory
kept for the next run, in the process that asks and in the processes it starts."""

from __future__ import annotations

import ctypes.util
import os
import subprocess
import sys
import textwrap

import pytest

from sim.simulation.allocator import KEPT_BYTES, tune_memory

GLIBC = sys.platform.startswith("linux") and ctypes.util.find_library("c") is not None

# Touch 24 blocks of 16 MiB (from the heap: below glibc's mapping threshold once fixed), free them, and print how
# much of the 384 MiB the process still holds, MiB (resident set size from /proc/self/statm).
_HOLDS_AFTER_FREE = textwrap.dedent("""
    import os, sys
    import numpy as np
    if sys.argv[1] == "tuned":
        from sim.simulation.allocator import tune_memory
        tune_memory()
    def resident():
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    before = resident()
    blocks = [np.ones(2 * 2**20) for _ in range(24)]
    del blocks
    print(resident() - before)
""")


def _held_after_free_mib(mode: str) -> float:
    done = subprocess.run([sys.executable, "-c", _HOLDS_AFTER_FREE, mode], capture_output=True, text=True, check=True)
    return float(done.stdout)


def test_numpy_stops_asking_for_huge_pages_here_and_in_started_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    from numpy._core import multiarray

    monkeypatch.setenv("NUMPY_MADVISE_HUGEPAGE", "1")
    original = multiarray._set_madvise_hugepage(True)  # this process's setting, put back at the end
    try:
        assert tune_memory()["huge_pages"] is False
        assert multiarray._set_madvise_hugepage(False) is False  # returns the setting it replaces
        started = subprocess.run([sys.executable, "-c", "import numpy._core.multiarray as m; print(m._set_madvise_hugepage(True))"],
                                 capture_output=True, text=True, check=True, env=dict(os.environ))
        assert started.stdout.strip() == "False"  # numpy read NUMPY_MADVISE_HUGEPAGE=0 at import
    finally:
        multiarray._set_madvise_hugepage(original)


@pytest.mark.skipif(not GLIBC, reason="the heap policy is glibc's")
def test_freed_memory_is_kept_for_the_next_run_only_when_tuned() -> None:
    assert tune_memory()["kept_bytes"] == KEPT_BYTES
    assert _held_after_free_mib("tuned") > 300  # the 384 MiB stay in the process for reuse
    assert _held_after_free_mib("default") < 100  # glibc's default gives them back to the kernel
