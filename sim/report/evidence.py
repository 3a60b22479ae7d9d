"""The source text behind each evidence identifier, read from EVIDENCE.md when the file is at hand.

EVIDENCE.md is not part of the package: it sits in the project's ``shared/`` folder beside the repository
(``<repository>/../shared/EVIDENCE.md``), or wherever ``cd7sim report --evidence FILE`` points. Its tables
have one row per identifier: ``| ID | value | n / CI | notes | source |`` (a row may carry several
identifiers, separated by commas); each row is returned with the heading of the section it is under.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from sim.inputs.errors import InputError
from sim.inputs.paths import ROOT, SOURCE_TREE

BESIDE_REPOSITORY = ROOT.parent / "shared" / "EVIDENCE.md"
"""Where EVIDENCE.md is looked for when no file is given (a checkout only)."""
_ID = r"[A-Z0-9]+(?:-[A-Z0-9]+)+"
_ROW = re.compile(rf"^\| ({_ID}(?:, {_ID})*) \|(.*)\|\s*$")


@dataclass(frozen=True)
class Source:
    """One row of EVIDENCE.md.

    Attributes
    ----------
    section : str
        The heading the row is under (the study or topic), up to its first dash.
    text : str
        The row's other cells (value, n or CI, notes, source), joined with `` · `` (empty cells left out).
    """

    section: str
    text: str


def default_evidence_file() -> Path | None:
    """EVIDENCE.md beside the repository, when cd7sim runs from a checkout that has it; else ``None``."""
    return BESIDE_REPOSITORY if SOURCE_TREE and BESIDE_REPOSITORY.is_file() else None


def shown_path(path: Path) -> str:
    """``path`` as the report shows it: relative to the current folder (so that a report names no folder of the
    machine that made it), or as given where no relative path exists (another drive)."""
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def read_evidence(path: Path) -> dict[str, Source]:
    """Every identifier of an EVIDENCE.md file and its source row.

    Raises
    ------
    InputError
        Naming ``--evidence`` for a file that cannot be read as UTF-8 text.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError("--evidence", str(path), f"a readable EVIDENCE.md file is required ({type(error).__name__})") from None
    sources: dict[str, Source] = {}
    section = ""
    for line in text.splitlines():
        if line.startswith("#"):
            section = line.lstrip("#").strip().split(" — ")[0]
            continue
        match = _ROW.match(line)
        if match is None:
            continue
        cells = [cell.strip() for cell in match.group(2).split("|")]
        source = Source(section, " · ".join(cell for cell in cells if cell))
        for identifier in match.group(1).split(", "):
            sources.setdefault(identifier, source)
    return sources
