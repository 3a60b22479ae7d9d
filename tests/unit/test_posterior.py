"""The calibrated posterior: its stamp, staleness, warning, mean and joint sampling (sim.inputs.posterior)."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from sim.calibration.calibrate import POSTERIOR_FILE, Calibration
from sim.inputs.errors import InputError
from sim.inputs.parameters import (
    DEFAULT_PARAMETERS_PATH,
    DEFAULT_POSTERIOR_PATH,
    FixedDist,
    UniformDist,
    within_unit,
)
from sim.inputs.paths import TARGETS_PATH
from sim.inputs.posterior import (
    ICC_COLUMN,
    STAMP_KEY,
    Posterior,
    StalePosteriorWarning,
    Stamp,
    with_posterior_means,
)
from sim.io.restamp import restamp

X, Y = "crs_any", "dropout_60d"
"""Two calibrated probabilities used for a synthetic posterior (y = x / 2 in every draw)."""


@pytest.fixture
def inputs(tmp_path: Path) -> tuple[Path, Path]:
    """Copies of the packaged parameters.yaml and targets.csv, free to edit."""
    parameters, targets = tmp_path / "parameters.yaml", tmp_path / "targets.csv"
    shutil.copyfile(DEFAULT_PARAMETERS_PATH, parameters)
    shutil.copyfile(TARGETS_PATH, targets)
    return parameters, targets


def correlated_frame(draws: int = 50) -> pd.DataFrame:
    """A posterior of ``X`` and ``Y = X / 2`` (perfectly correlated), with bookkeeping columns."""
    x = np.linspace(0.2, 0.95, draws) ** 2
    return pd.DataFrame({"draw": np.arange(draws), "source_draw": np.arange(draws) * 3,
                         "log_likelihood": -np.arange(draws, dtype=float), X: x, Y: 0.5 * x})


def test_stamp_round_trips_through_the_parquet_metadata(tmp_path, params, inputs):
    stamp = Stamp.of(*inputs)
    assert len(stamp.parameters_sha256) == len(stamp.targets_sha256) == 64
    path = tmp_path / "posterior.parquet"
    Posterior(correlated_frame(), stamp).write(path)
    assert Stamp.from_json(pq.read_schema(path).metadata[STAMP_KEY]) == stamp
    read = Posterior.read(path, params.registry)
    assert read.stamp == stamp
    pd.testing.assert_frame_equal(read.draws, correlated_frame(), check_exact=True)
    assert read.names == [X, Y]


def test_a_stamp_that_is_not_one_is_refused(tmp_path, params):
    path = tmp_path / "posterior.parquet"
    Posterior(correlated_frame()).write(path)
    table = pq.read_table(path)
    pq.write_table(table.replace_schema_metadata({**table.schema.metadata, STAMP_KEY: b'{"version": 1}'}), path)
    with pytest.raises(InputError, match=r"^posterior\.parquet:cd7sim\.stamp: got .*; a JSON object of the texts "):
        Posterior.read(path, params.registry)


@pytest.mark.parametrize("edited", ["parameters.yaml", "targets.csv"])
def test_a_changed_byte_of_either_input_makes_the_posterior_stale(tmp_path, params, inputs, edited):
    path = tmp_path / "posterior.parquet"
    Posterior(correlated_frame(), Stamp.of(*inputs)).write(path)
    posterior = Posterior.read(path, params.registry)
    assert not posterior.is_stale(*inputs) and posterior.staleness(*inputs) is None
    changed = tmp_path / edited
    changed.write_bytes(changed.read_bytes() + b"\n")
    assert posterior.is_stale(*inputs)
    reason = posterior.staleness(*inputs)
    other = ({"parameters.yaml", "targets.csv"} - {edited}).pop()
    assert f"calibrated from a different {edited} than the current one;" in reason and other not in reason


def test_a_posterior_without_a_stamp_is_of_unknown_provenance(tmp_path, params, inputs):
    path = tmp_path / "posterior.parquet"
    correlated_frame().to_parquet(path, index=False)
    posterior = Posterior.read(path, params.registry)
    assert posterior.stamp is None and posterior.is_stale(*inputs)
    assert "has no provenance stamp" in posterior.staleness(*inputs)
    assert "re-run `cd7sim calibrate --write-committed`" in posterior.staleness(*inputs)


def test_posterior_means_warn_once_for_a_stale_posterior(tmp_path, params):
    path = tmp_path / "posterior.parquet"
    Posterior(correlated_frame(), Stamp("0" * 64, Stamp.of().targets_sha256, "0.0.0")).write(path)
    with pytest.warns(StalePosteriorWarning, match=r"posterior\.parquet is stale: it was calibrated from a different "
                                                   r"parameters\.yaml than the current one; re-run `cd7sim calibrate "):
        means = with_posterior_means(params, path)
    assert means[X] == correlated_frame()[X].mean()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with_posterior_means(params, path)
    assert not [w for w in caught if issubclass(w.category, StalePosteriorWarning)]


def test_posterior_means_warn_for_an_unstamped_posterior(tmp_path, params):
    path = tmp_path / "posterior.parquet"
    correlated_frame().to_parquet(path, index=False)
    with pytest.warns(StalePosteriorWarning, match=r"has no provenance stamp.*re-run `cd7sim calibrate --write-committed`"):
        with_posterior_means(params, path)


def test_a_fresh_posterior_loads_without_warning(tmp_path, params):
    path = tmp_path / "posterior.parquet"
    Posterior(correlated_frame(), Stamp.of()).write(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", StalePosteriorWarning)
        assert with_posterior_means(params, path)[Y] == correlated_frame()[Y].mean()


def test_restamp_changes_the_stamp_and_not_one_bit_of_the_draws(tmp_path, inputs):
    path = tmp_path / "posterior.parquet"
    correlated_frame().to_parquet(path, index=False)
    before, pandas_metadata = pd.read_parquet(path), pq.read_schema(path).metadata[b"pandas"]
    stamp = restamp(path, *inputs)
    after = pd.read_parquet(path)
    assert list(after.dtypes) == list(before.dtypes)
    assert after.to_numpy().tobytes() == before.to_numpy().tobytes()
    assert pq.read_schema(path).metadata[b"pandas"] == pandas_metadata
    assert Posterior.read(path).stamp == stamp == Stamp.of(*inputs)


def test_mean_is_the_column_means(params):
    frame = correlated_frame()
    mean = Posterior(frame, registry=params.registry).mean()
    assert mean == {X: frame[X].mean(), Y: frame[Y].mean()}


def test_the_intra_class_correlation_is_read_but_is_no_model_parameter(tmp_path, params):
    """The calibration's hyperparameter column is checked and kept, but neither a parameter mean nor in a sample."""
    frame = correlated_frame().assign(**{ICC_COLUMN: 0.05})
    path = tmp_path / "posterior.parquet"
    Posterior(frame, registry=params.registry).write(path)
    posterior = Posterior.read(path, params.registry)
    assert posterior.names == [X, Y] and ICC_COLUMN in posterior.draws.columns
    assert set(posterior.mean()) == {X, Y}
    assert ICC_COLUMN not in posterior.sample(1, np.random.default_rng(0))[0]
    with pytest.warns(StalePosteriorWarning, match="no provenance stamp"):
        with_means = with_posterior_means(params, path)
    assert with_means[X] == pytest.approx(frame[X].mean())


def test_samples_are_whole_joint_draws(params):
    frame = correlated_frame()
    sets = Posterior(frame, registry=params.registry).sample(300, np.random.default_rng(1))
    assert len(sets) == 300
    for s in sets:
        assert s[Y] == 0.5 * s[X]
        assert s[X] in set(frame[X])
    assert len({s[X] for s in sets}) > 30


def test_parameters_not_in_the_posterior_come_from_their_priors(params):
    sets = Posterior(correlated_frame(), registry=params.registry).sample(200, np.random.default_rng(2))
    others = [n for n, p in params.registry.items() if n not in (X, Y) and not isinstance(p.distribution, FixedDist)]
    assert len(others) > 50
    for name in others:
        values = np.array([s[name] for s in sets])
        assert len(set(values)) > 100, name
        assert within_unit(params.registry[name].unit, values).all(), name
        distribution = params.registry[name].distribution
        if isinstance(distribution, UniformDist):
            assert ((distribution.low <= values) & (values <= distribution.high)).all(), name


def test_fixed_parameters_keep_their_value(params):
    fixed = [n for n, p in params.registry.items() if isinstance(p.distribution, FixedDist)]
    assert fixed
    base = params.with_overrides({fixed[0]: params[fixed[0]] * 2})
    for s in Posterior(correlated_frame(), registry=params.registry).sample(20, np.random.default_rng(3), base):
        assert all(s[name] == base[name] for name in fixed)


def test_the_same_seed_gives_the_same_sets(params):
    posterior = Posterior(correlated_frame(), registry=params.registry)
    a = [s.as_dict() for s in posterior.sample(25, np.random.default_rng(4))]
    assert a == [s.as_dict() for s in posterior.sample(25, np.random.default_rng(4))]
    assert a[:10] == [s.as_dict() for s in posterior.sample(10, np.random.default_rng(4))]
    assert a != [s.as_dict() for s in posterior.sample(25, np.random.default_rng(5))]


def test_sample_refuses_a_negative_count(params):
    with pytest.raises(ValueError, match="k must be a non-negative integer"):
        Posterior(correlated_frame(), registry=params.registry).sample(-1, np.random.default_rng(0))


def test_the_calibration_writes_a_stamped_posterior(tmp_path):
    from sim.report.calibration_files import calibration_writers

    draws = np.array([[0.9, 0.1], [0.8, 0.2], [0.7, 0.3]])
    calibration = Calibration(names=[X, Y], draws=draws, expected=np.empty((3, 0)), log_likelihood=np.array([-1.0, -2.0, -3.0]),
                              weights=np.full(3, 1 / 3), posterior_index=np.array([0, 2, 2, 1]), prior_draws=3, targets=[],
                              seed=0, seconds=0.0)
    path = tmp_path / POSTERIOR_FILE
    calibration_writers(calibration)[POSTERIOR_FILE](path)
    posterior = Posterior.read(path)
    assert posterior.stamp == Stamp.of() and not posterior.is_stale()
    pd.testing.assert_frame_equal(posterior.draws, calibration.posterior_frame(), check_exact=True)


def test_the_committed_posterior_is_stamped_and_not_stale():
    """The committed posterior must have been calibrated from (or consciously re-stamped for) the current
    ``calibration/parameters.yaml`` and ``calibration/targets.csv``.

    Whoever changes either file fails here until they re-calibrate (``cd7sim calibrate --write-committed``)
    or, when the change cannot affect the calibration (a description, a capacity-only parameter), re-stamp
    the committed posterior (``python -m sim.io.restamp``) and commit it.
    """
    posterior = Posterior.read(DEFAULT_POSTERIOR_PATH)
    assert posterior.stamp is not None
    assert posterior.staleness() is None
