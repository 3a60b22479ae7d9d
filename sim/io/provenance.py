"""Where a run was made: the machine and, in a checkout, the git commit of the code (recorded in ``run.json``)."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

from sim.inputs.paths import ROOT, SOURCE_TREE

GIT_TIMEOUT_SECONDS = 5.0
"""Longest wait for ``git rev-parse``; beyond it the commit is recorded as unknown."""


def machine() -> dict[str, object]:
    """The machine a run is made on: operating system, processor, cores and Python."""
    return {"platform": platform.platform(), "processor": platform.machine(), "cores": os.cpu_count(),
            "python": platform.python_version()}


def git_commit(root: Path = ROOT) -> str | None:
    """The commit checked out at ``root``, with ``+changes`` when tracked files differ from it; ``None`` outside a
    git checkout (an installed wheel) or when git is unavailable."""
    if not SOURCE_TREE or not (root / ".git").exists():
        return None
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=GIT_TIMEOUT_SECONDS, check=True).stdout.strip()
        changed = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                                 text=True, timeout=GIT_TIMEOUT_SECONDS, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{head}+changes" if changed else head or None
