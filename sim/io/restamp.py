"""``python -m sim.io.restamp``: stamp a posterior file for the current ``parameters.yaml`` and
``targets.csv`` without touching its draws (after a change known not to affect the calibration, or for a
posterior of unknown provenance). The file is replaced in one rename, its mode kept."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from sim.inputs.errors import InputError
from sim.inputs.parameters import DEFAULT_PARAMETERS_PATH, DEFAULT_POSTERIOR_PATH
from sim.inputs.paths import TARGETS_PATH
from sim.inputs.posterior import RESTAMP, Stamp, restamped
from sim.io.files import atomic_path


def restamp(path: str | Path = DEFAULT_POSTERIOR_PATH, parameters_path: str | Path = DEFAULT_PARAMETERS_PATH,
            targets_path: str | Path = TARGETS_PATH) -> Stamp:
    """Stamp the posterior file ``path`` for the given input files, draws untouched (see
    :func:`sim.inputs.posterior.restamped`), replacing it atomically with its file mode kept.

    Returns
    -------
    Stamp
        The stamp written.
    """
    import pyarrow.parquet as pq

    path = Path(path)
    table, stamp = restamped(path, parameters_path, targets_path)
    with atomic_path(path, mode=path.stat().st_mode & 0o7777) as temporary:
        pq.write_table(table, temporary)
    return stamp


def main(argv: Sequence[str] | None = None) -> int:
    """Re-stamp a posterior file (default: the committed one); exit status 0, or 2 for bad input."""
    import argparse

    parser = argparse.ArgumentParser(prog=RESTAMP, description="Stamp a posterior file for the current parameters.yaml "
                                     "and targets.csv without touching its draws.")
    parser.add_argument("posterior", nargs="?", type=Path, default=DEFAULT_POSTERIOR_PATH)
    parser.add_argument("--parameters", type=Path, default=DEFAULT_PARAMETERS_PATH, help="the parameters.yaml to stamp")
    parser.add_argument("--targets", type=Path, default=TARGETS_PATH, help="the targets.csv to stamp")
    args = parser.parse_args(argv)
    try:
        stamp = restamp(args.posterior, args.parameters, args.targets)
    except InputError as error:
        print(f"{RESTAMP}: error: {error}", file=sys.stderr)
        return 2
    print(f"stamped {args.posterior}: {stamp.to_json()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
