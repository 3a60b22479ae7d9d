"""The house rules, checked by the test suite that CI runs: the import contracts of DESIGN.md section 2
(lint-imports), ruff, mypy, and a command line that starts without the heavy libraries."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

BIN = Path(sys.executable).parent


def _run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)


def test_import_contracts_are_kept():
    """Layers import one way; only the engines import simpy; only the report imports matplotlib; the
    clinical model imports no pandas, simpy or file writing (pyproject.toml, [tool.importlinter])."""
    result = _run(str(BIN / "lint-imports"))
    assert result.returncode == 0, result.stdout[-3000:]
    assert "0 broken" in result.stdout


def test_ruff_is_clean():
    result = _run(str(BIN / "ruff"), "check", "sim", "tests")
    assert result.returncode == 0, result.stdout[-3000:]


def test_the_package_type_checks():
    """mypy over the package with the configuration of pyproject.toml ([tool.mypy])."""
    result = _run(str(BIN / "mypy"))
    assert result.returncode == 0, "\n".join((result.stdout + result.stderr).splitlines()[-40:])


def test_the_command_line_imports_no_heavy_library():
    """``import sim.cli`` (what ``cd7sim --help`` pays for) loads none of matplotlib, scipy, pandas,
    numpy, pydantic or simpy: each command imports what it needs when it runs."""
    probe = ("import sys, sim.cli; print(','.join(sorted(m for m in ('matplotlib', 'scipy', 'pandas', 'numpy', "
             "'pydantic', 'simpy') if m in sys.modules)))")
    result = _run(sys.executable, "-c", probe)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_a_run_does_not_import_scipy_stats():
    """A base-case run (the facade, the engines, the estimators and the figures) needs only
    scipy.special: scipy.stats alone takes about a second to import, half the default run's budget."""
    probe = ("import sys; from sim import api; api.run('base', patients=50, workers=1).figures(); "
             "print('scipy.stats' in sys.modules)")
    result = _run(sys.executable, "-c", probe)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
