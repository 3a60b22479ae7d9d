"""Parallel runs give exactly the serial result, locally and on a Dask cluster."""

from __future__ import annotations

import pandas as pd
import pytest

from sim.inputs.errors import InputError
from sim.simulation.parallel import LocalExecutor, SerialExecutor, chunks, make_executor
from sim.simulation.runner import simulate


@pytest.fixture(scope="module")
def scenario(base_scenario):
    return base_scenario.model_copy(update={"patients": 200, "replications": 3, "seed": 13})


def assert_same(a, b):
    pd.testing.assert_frame_equal(a.patients, b.patients)
    pd.testing.assert_frame_equal(a.events, b.events)


def test_local_processes_equal_serial(scenario, params):
    serial = simulate(scenario, params, "des", SerialExecutor())
    parallel = simulate(scenario, params, "des", LocalExecutor(2))
    assert_same(serial, parallel)
    assert sorted(serial.patients.replication.unique()) == [0, 1, 2]


def test_replications_differ(scenario, params):
    p = simulate(scenario, params, "cohort").patients
    ages = p[p.strategy == "cart_alone"].groupby("replication").age.apply(lambda a: tuple(a.round(9)))
    assert ages.nunique() == 3


def test_dask_cluster_equals_serial(scenario, params):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        executor = make_executor(scheduler=cluster.scheduler_address)
        try:
            on_dask = simulate(scenario, params, "cohort", executor)
        finally:
            executor.close()
    assert_same(simulate(scenario, params, "cohort"), on_dask)


@pytest.mark.slow
def test_unreachable_scheduler_is_a_clear_error():
    pytest.importorskip("distributed")
    with pytest.raises(InputError, match=r"^--scheduler: got 'tcp://127\.0\.0\.1:1'; a reachable Dask scheduler is required"):
        make_executor(scheduler="tcp://127.0.0.1:1")


def test_make_executor_defaults():
    assert isinstance(make_executor(1), SerialExecutor)
    assert isinstance(make_executor(2), LocalExecutor)
    assert [list(c) for c in chunks(list(range(5)), 2)] == [[0, 1], [2, 3], [4]]


def _refuse(task: int) -> int:
    """A task that meets bad input in its worker process."""
    if task == 2:
        raise InputError("capacity.icu_beds", 0, "Input should be greater than or equal to 1")
    return task


def test_an_input_error_in_a_worker_process_reaches_the_caller_whole():
    """The one-line error raised in a worker (local processes; Dask pickles the same way) is the same
    InputError in the caller, not a broken pool."""
    with pytest.raises(InputError) as caught:
        LocalExecutor(2).map(_refuse, [0, 1, 2, 3])
    assert str(caught.value) == "capacity.icu_beds: got 0; Input should be greater than or equal to 1"
    assert (caught.value.field, caught.value.value) == ("capacity.icu_beds", 0)


def test_an_input_error_survives_cloudpickle_as_dask_sends_it():
    cloudpickle = pytest.importorskip("cloudpickle")
    error = InputError("arrivals.rate_per_year", float("inf"), "a finite number is required")
    again = cloudpickle.loads(cloudpickle.dumps(error))
    assert isinstance(again, InputError) and str(again) == str(error) == (
        "arrivals.rate_per_year: got .inf; a finite number is required")


def test_an_input_error_in_a_dask_worker_process_reaches_the_user_as_one_line(tmp_path, capsys):
    """The cohort engine refuses a capacity limit inside each replication, i.e. in the Dask worker (a separate
    process here, so the error is pickled on the way back): the command still ends with the one line, exit 2."""
    distributed = pytest.importorskip("distributed")
    from sim.cli import main
    from tests.conftest import REPO

    scenario = REPO / "scenarios" / "capacity" / "regional_centre.yaml"
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        status = main(["run", str(scenario), "--engine", "cohort", "--replications", "2", "--scheduler", cluster.scheduler_address,
                       "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert status == 2
    assert err == ("cd7sim: error: capacity.apheresis_slots_per_week: got 2; the cohort engine needs unlimited capacity; "
                   "use --engine des for queues")
    assert not (tmp_path / "out").exists()
