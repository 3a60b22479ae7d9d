"""Whether the compiled clinical logic is ready to load.

numba compiles the pathway's passes on their first use and keeps them beside the sources (``__pycache__``); a
fresh checkout or installation compiles them on its first run (about ten seconds, once), later runs load them.
"""

from __future__ import annotations

from pathlib import Path


def compiled_logic_cached() -> bool:
    """True when numba's cache holds the compiled pathway (the settling pass, compiled with the rest on a first run),
    or when nothing is compiled (``NUMBA_DISABLE_JIT=1``); False before the first run of a checkout or installation."""
    from sim.disease.settlement import settle_patients

    cache_file = getattr(getattr(settle_patients, "_cache", None), "_cache_file", None)
    index = getattr(cache_file, "_index_path", None)
    return index is None or Path(index).is_file()
