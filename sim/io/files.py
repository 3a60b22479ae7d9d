"""Writing files without ever losing a user's data.

- Files are written atomically: readers see the old file or the new one, never half of one.
- An output folder is cd7sim's own or it is refused: it is written only if it is new, empty, or was
  written by cd7sim (it holds the marker file :data:`MARKER`, listing the files cd7sim wrote, and
  nothing else), and never if it holds the scenario file, the current folder, or a parent of either.
- A folder is replaced by exchanging it with a fully written sibling in one system call (Linux
  ``renameat2(RENAME_EXCHANGE)``), so there is no moment when it is missing; the old copy is then
  removed. Where the exchange is not available the fallback is two renames.
- Staging folders left by killed runs are removed by the next run that writes beside them.
- A path that is a symbolic link is followed: the folder (or file) it points to is written, and the
  link is kept.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from sim import __version__
from sim.inputs.errors import InputError

MARKER = ".cd7sim"
"""The file that marks a folder as written by cd7sim (JSON: writer, version, command, files)."""

STAGING = ".cd7sim-staging"
"""Infix of the name of a staging folder; the same file name marks its inside."""

LEGACY_RUN_FILES = frozenset({
    "patients.parquet", "events.parquet", "summary.csv", "resources.csv", "run.json",
    "survival.png", "flow.png", "utilisation.png", "waits.png",
})
"""What ``cd7sim run`` wrote before folders carried the marker (version 0.1.0)."""
LEGACY_OUTPUT_FILES = LEGACY_RUN_FILES | {"sweep.csv", "sweep.png"}
"""Every file a cd7sim 0.1.0 command wrote into an output folder (run and sweep)."""

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


@contextmanager
def atomic_path(path: Path, mode: int | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` in one rename.

    The temporary file is this call's own (``mkstemp``); if the write fails, that file, and only it, is
    removed.

    Parameters
    ----------
    path : Path
        The file to write (its folder is created if needed).
    mode : int, optional
        Permission bits of the new file (default: as the umask allows a new file).
    """
    path = real_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(handle)
    replaced = False
    try:
        yield Path(temporary)
        os.chmod(temporary, 0o666 & ~_umask() if mode is None else mode)
        os.replace(temporary, path)
        replaced = True
    finally:
        if not replaced:
            Path(temporary).unlink(missing_ok=True)


def check_output_folder(out_dir: str | Path, field: str = "--out", protected: Iterable[Path] = ()) -> Path:
    """Refuse an output folder cd7sim may not write; return it as given.

    Parameters
    ----------
    out_dir : str or Path
        The folder a command will write (replacing it whole).
    field : str
        The argument that named it, for messages.
    protected : iterable of Path
        Inputs the folder must not contain (the scenario file); the current folder is always protected.

    Raises
    ------
    InputError
        When the path is empty, lies below a file, is not writable, contains the current folder or a
        protected input, or is an existing folder with files cd7sim did not write.
    """
    text = str(out_dir)
    if not text.strip():
        raise InputError(field, text, "a folder path is required")
    path = Path(out_dir)
    resolved = real_path(path, field)
    for guarded in (Path.cwd(), *protected):
        guarded = Path(guarded).resolve()
        if guarded == resolved or resolved in guarded.parents:
            what = "the current folder" if guarded == Path.cwd().resolve() else str(guarded)
            raise InputError(field, text, f"a folder that does not contain {what} is required "
                             "(cd7sim replaces its output folder whole)")
    existing = _nearest_existing(resolved)
    if existing != resolved and not existing.is_dir():
        raise InputError(field, text, f"a folder path is required ({existing} is a file)")
    if existing == resolved:
        if not resolved.is_dir():
            raise InputError(field, text, "a folder path is required (a file of that name exists)")
        foreign = foreign_files(resolved)
        if foreign:
            raise InputError(field, text, "a new or empty folder, or one cd7sim wrote, is required "
                             f"(it holds {_listing(foreign)}, which cd7sim did not write)")
    if not os.access(resolved.parent if existing == resolved else existing, os.W_OK | os.X_OK):
        raise InputError(field, text, "a folder in a writable place is required")
    return path


def real_path(path: Path, field: str = "--out") -> Path:
    """``path`` made absolute with every symbolic link followed (the place that is written).

    Raises
    ------
    InputError
        When the links loop, so that the path names no place.
    """
    try:
        return Path(path).resolve()
    except (OSError, RuntimeError):  # a loop of links: RuntimeError before Python 3.13, OSError since
        raise InputError(field, str(path), "a path that ends somewhere is required (its symbolic links go round in a loop)") from None


def foreign_files(folder: Path) -> list[str]:
    """Names in ``folder`` that cd7sim did not write (empty for an empty folder or cd7sim's own).

    Parameters
    ----------
    folder : Path
        An existing folder.
    """
    names = sorted(entry.name for entry in folder.iterdir())
    if not names:
        return []
    own = _own_files(folder)
    return [name for name in names if name not in own]


def write_folder(out_dir: str | Path, write: Callable[[Path], None], command: str,
                 protected: Sequence[Path] = ()) -> Path:
    """Fill a folder atomically and mark it as cd7sim's own.

    ``write`` fills a staging folder beside ``out_dir``; the marker file listing what was written is
    added, and the staging folder then takes the place of ``out_dir`` (see :func:`replace_folder`).
    A failed or interrupted ``write`` leaves ``out_dir`` as it was and removes the staging folder.

    Parameters
    ----------
    out_dir : str or Path
        Destination folder (checked by :func:`check_output_folder` first).
    write : callable
        Writes the files into the folder it is given.
    command : str
        The command that writes (recorded in the marker).
    protected : sequence of Path
        Inputs the folder must not contain.

    Returns
    -------
    Path
        The folder written.
    """
    out_dir = check_output_folder(out_dir, protected=protected)
    target = real_path(out_dir)  # a symbolic link is followed: the folder it points to is replaced, the link kept
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_staging(target)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}{STAGING}-{os.getpid()}-", dir=target.parent))
    except OSError as error:
        raise InputError("--out", str(out_dir), f"a folder in a writable place is required ({error.strerror})") from None
    try:
        (staging / STAGING).touch()
        write(staging)
        (staging / STAGING).unlink()
        files = sorted(p.name for p in staging.iterdir())
        marker = {"written_by": "cd7sim", "version": __version__, "command": command, "files": files}
        (staging / MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
        _open_to_umask(staging)
        foreign = foreign_files(target) if target.is_dir() else []
        if foreign:
            raise InputError("--out", str(out_dir), "a new or empty folder, or one cd7sim wrote, is required "
                             f"(it holds {_listing(foreign)}, which cd7sim did not write)")
        replace_folder(staging, target)
    except BaseException:
        remove_own_folder(staging, everything_written_here=True)
        raise
    return out_dir


def replace_folder(new: Path, target: Path) -> None:
    """Put the folder ``new`` in place of ``target``; ``target`` is never missing on the way.

    Parameters
    ----------
    new : Path
        A complete folder beside ``target``.
    target : Path
        The folder to replace (or create).
    """
    try:
        os.rename(new, target)
        return
    except OSError:
        if not target.is_dir():
            raise
    if _exchange(new, target):
        remove_own_folder(new)
        return
    retired = new.with_name(new.name + ".old")
    os.rename(target, retired)
    os.rename(new, target)
    remove_own_folder(retired)


def remove_own_folder(folder: Path, everything_written_here: bool = False) -> bool:
    """Delete ``folder`` if it holds only files cd7sim wrote; otherwise leave every byte of it.

    The files cd7sim wrote are those its marker lists (or a version-0.1.0 run's files, see
    :func:`_own_files`); a staging folder this process made (``everything_written_here``) holds only
    what this process wrote into it. Only plain files directly inside are removed, then the empty folder:
    a sub-folder, a link or any other name keeps the folder whole.

    Parameters
    ----------
    folder : Path
    everything_written_here : bool
        The folder is a staging folder this process created and filled.

    Returns
    -------
    bool
        Whether the folder was removed.
    """
    if not folder.is_dir() or folder.is_symlink():
        return False
    entries = list(folder.iterdir())
    own = None if everything_written_here else _own_files(folder) | {STAGING}
    if any(e.is_symlink() or not e.is_file() or (own is not None and e.name not in own) for e in entries):
        return False
    for entry in entries:
        entry.unlink(missing_ok=True)
    folder.rmdir()
    return True


def remove_stale_staging(out_dir: Path) -> list[Path]:
    """Remove staging folders that killed runs left beside ``out_dir``.

    A staging folder is stale when the process that made it (its name carries the process id) is
    gone. Only folders that carry cd7sim's staging or output marker, or are empty, are removed;
    anything else is left alone.

    Parameters
    ----------
    out_dir : Path
        The output folder about to be written.

    Returns
    -------
    list of Path
        The folders removed.
    """
    pattern = re.compile(re.escape(f".{out_dir.name}{STAGING}-") + r"(\d+)-")
    removed: list[Path] = []
    if not out_dir.parent.is_dir():
        return removed
    for entry in out_dir.parent.iterdir():
        match = pattern.match(entry.name)
        if match is None or not entry.is_dir() or entry.is_symlink() or _alive(int(match.group(1))):
            continue
        inside = {p.name for p in entry.iterdir()}
        written_by_killed_run = STAGING in inside or not inside
        if (written_by_killed_run or MARKER in inside) and remove_own_folder(entry, written_by_killed_run):
            removed.append(entry)
    return removed + _remove_legacy_staging(out_dir)


def _remove_legacy_staging(out_dir: Path) -> list[Path]:
    """Remove what killed runs of cd7sim 0.1.0 left beside ``out_dir``: staging folders named ``.NAME.`` and
    eight random characters (``tempfile.mkdtemp``) holding nothing but that version's output files, and
    ``.NAME.old.`` folders (also eight random characters) holding only such a ``NAME`` folder. Anything else
    is left alone."""
    staging = re.compile(re.escape(f".{out_dir.name}.") + r"[a-z0-9_]{8}")
    retired = re.compile(re.escape(f".{out_dir.name}.old.") + r"[a-z0-9_]{8}")

    def debris(entry: Path) -> bool:
        if not entry.is_dir() or entry.is_symlink():
            return False
        if staging.fullmatch(entry.name):
            return _only_legacy_files(entry)
        inside = [p.name for p in entry.iterdir()] if retired.fullmatch(entry.name) else []
        return inside == [out_dir.name] and _only_legacy_files(entry / out_dir.name)

    removed = []
    for entry in out_dir.parent.iterdir():
        if not debris(entry):
            continue
        inner = entry / out_dir.name
        if inner.is_dir():
            _remove_legacy_files(inner)
        _remove_legacy_files(entry)
        removed.append(entry)
    return removed


def _remove_legacy_files(folder: Path) -> None:
    """Unlink the version-0.1.0 output files of ``folder`` (checked by :func:`_only_legacy_files`), then it."""
    for entry in folder.iterdir():
        if entry.name in LEGACY_OUTPUT_FILES and entry.is_file() and not entry.is_symlink():
            entry.unlink()
    folder.rmdir()


def _only_legacy_files(folder: Path) -> bool:
    """Whether ``folder`` is a real folder holding only files that cd7sim 0.1.0 wrote (possibly none)."""
    if not folder.is_dir() or folder.is_symlink():
        return False
    return all(p.is_file() and not p.is_symlink() and p.name in LEGACY_OUTPUT_FILES for p in folder.iterdir())


def _own_files(folder: Path) -> set[str]:
    """The names cd7sim wrote in ``folder`` according to its marker (or a version-0.1.0 run.json)."""
    marker = folder / MARKER
    if marker.is_file():
        try:
            content = json.loads(marker.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return set()
        if isinstance(content, dict) and content.get("written_by") == "cd7sim" and isinstance(content.get("files"), list):
            return {MARKER, *map(str, content["files"])}
        return set()
    if _legacy_run(folder / "run.json"):
        return set(LEGACY_RUN_FILES)
    return set()


def _legacy_run(path: Path) -> bool:
    """Whether ``path`` is the run.json of a cd7sim 0.1.0 run."""
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(content, dict) and {"version", "scenario", "engine", "parameters"} <= set(content)


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _listing(names: list[str], shown: int = 3) -> str:
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _open_to_umask(folder: Path) -> None:
    """Give a staging folder (0700 from ``mkdtemp``) the permissions the user's umask allows."""
    os.chmod(folder, 0o777 & ~_umask())


def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths in one system call (Linux ``renameat2`` with ``RENAME_EXCHANGE``).

    Returns
    -------
    bool
        False where the call is not available (another system, an old C library or a file system
        without support), so the caller can fall back.
    """
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    status = renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE)
    return status == 0
