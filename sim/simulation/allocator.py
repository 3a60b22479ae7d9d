"""The allocator of a simulating process: freed memory kept for the next run, no huge-page requests.

A cohort of a million patients under four strategies writes a patients table of about 700 MB, and a
process that simulates again and again (the teaching app, a PSA or calibration worker, the benchmark)
frees and asks for that much on every run. Two defaults of the platform make each such table cost far
more than writing it:

- glibc's ``malloc`` gives the freed top of its heap back to the kernel as soon as it exceeds its trim
  threshold (at most 64 MiB), so the next run faults every page in again (a few microseconds a page on
  a virtual machine, about 0.4 s a table);
- numpy asks the kernel for transparent huge pages for every array of 4 MiB or more
  (``madvise(MADV_HUGEPAGE)``); where the kernel then compacts memory on demand to find them (THP
  ``defrag = madvise``, the default of many distributions), the first touch of a fresh gigabyte stalls
  for one to three seconds instead of half a second.

:func:`tune_memory` changes both for the process it runs in: the command line, the teaching app, the
local worker processes and the benchmark's measuring processes call it first; a library user may too.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import importlib
import os
import sys

KEPT_BYTES = 1 << 30
"""Freed memory a process keeps for its next run instead of giving it back to the kernel, bytes (1 GiB:
the patients table of 1M patients x 4 strategies, with room to spare)."""
HEAP_BYTES = 32 << 20
"""Blocks up to this size come from the reusable heap rather than from their own mapping, bytes (glibc's
largest: 32 MiB, one float column of a 1M x 4 patients table)."""
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)


def tune_memory() -> dict[str, object]:
    """Keep freed memory for reuse and do not ask for huge pages, in this process and the processes it starts.

    Returns
    -------
    dict
        ``huge_pages`` (False: numpy no longer asks for them) and ``kept_bytes`` (the heap memory kept
        when freed, bytes; 0 where the C library is not glibc and keeps its own policy).
    """
    os.environ["NUMPY_MADVISE_HUGEPAGE"] = "0"  # processes started from here read it when they import numpy
    multiarray = importlib.import_module("numpy._core.multiarray")
    multiarray._set_madvise_hugepage(False)
    return {"huge_pages": False, "kept_bytes": KEPT_BYTES if _keep_freed_memory() else 0}


def _keep_freed_memory() -> bool:
    """Raise glibc's trim threshold to :data:`KEPT_BYTES` and fix its mapping threshold at :data:`HEAP_BYTES`;
    False where the C library is not glibc."""
    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    libc = ctypes.CDLL(name) if name else None
    if libc is None or not hasattr(libc, "mallopt") or not hasattr(libc, "gnu_get_libc_version"):
        return False
    return bool(libc.mallopt(_M_MMAP_THRESHOLD, HEAP_BYTES)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, KEPT_BYTES))
