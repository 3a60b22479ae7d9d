"""The compiled clinical logic and its plain-Python path are one form: a run with the compiler switched
off (``NUMBA_DISABLE_JIT=1``, the debugging path the README describes) writes the same tables to the bit
as the compiled run, in both engines and with queues."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import textwrap

import pandas as pd
import pytest

from sim.inputs.scenario import load_scenario
from sim.simulation.runner import simulate

RUN = textwrap.dedent("""
    import pickle, sys
    from sim.inputs.scenario import load_scenario
    from sim.simulation.runner import simulate
    path, engine, patients = sys.argv[1], sys.argv[2], int(sys.argv[3])
    scenario = load_scenario(path).model_copy(update={"patients": patients, "replications": 1})
    result = simulate(scenario, scenario.parameter_set(), engine)
    sys.stdout.buffer.write(pickle.dumps((result.patients, result.events)))
""")


@pytest.mark.parametrize(("scenario", "engine", "patients"), [
    ("base", "cohort", 400),
    ("base", "des", 300),
    ("scenarios/capacity/regional_centre.yaml", "des", 300),
])
def test_the_plain_python_path_gives_the_compiled_tables(scenario, engine, patients):
    plain = subprocess.run([sys.executable, "-c", RUN, scenario, engine, str(patients)], capture_output=True, check=True,
                           env={**os.environ, "NUMBA_DISABLE_JIT": "1"})
    patients_table, events = pickle.loads(plain.stdout)
    compiled = load_scenario(scenario).model_copy(update={"patients": patients, "replications": 1})
    result = simulate(compiled, compiled.parameter_set(), engine)
    assert len(result.patients) >= patients * len(compiled.strategies) // 2  # not vacuous: hundreds of courses
    pd.testing.assert_frame_equal(patients_table, result.patients, check_exact=True)
    pd.testing.assert_frame_equal(events, result.events, check_exact=True)
