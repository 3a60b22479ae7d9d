"""The benchmark's report and JSON (a tiny real measurement; no timing is asserted)."""

from __future__ import annotations

import json

import pytest

from sim.inputs.errors import InputError
from sim.simulation.bench import (
    QUICK,
    calibration_draws,
    check_bench_json,
    command_seconds,
    format_report,
    measure,
    seconds_at,
    target_records,
    target_rows,
    write_json,
)


def test_measure_counts_trajectories_and_memory():
    m = measure("cohort", 500, 2)
    assert m.trajectories == 4 * 500
    assert len(m.table_seconds) == 2 and all(0 < t < s for t, s in zip(m.table_seconds, m.seconds, strict=True))
    assert len(m.seconds) == 2 and all(s > 0 for s in m.seconds)
    assert m.peak_memory_mb > 10
    assert m.per_second == m.trajectories / m.median_seconds


def test_the_reference_model_and_the_simpy_engine_are_measured_with_capacity():
    for engine in ("reference", "des"):
        m = measure(engine, 200, 1)
        assert m.trajectories == 4 * 200 and len(m.seconds) == 1 and m.seconds[0] > 0


def test_report_and_json_keys(tmp_path):
    measurement = {"engine": "des", "patients": 10, "trajectories": 40, "seconds": [0.1], "peak_memory_mb": 100.0,
                   "median_seconds": 0.1, "per_second": 400, "table_seconds": [0.01]}
    million = {"engine": "cohort", "patients": 1_000_000, "trajectories": 4_000_000, "seconds": [4.0],
               "peak_memory_mb": 1700.0, "median_seconds": 4.0, "per_second": 1_000_000, "table_seconds": [1.0]}
    reference = {**measurement, "engine": "reference", "per_second": 40}
    result = {
        "des_patients_per_second": 400, "cohort_patients_per_second": 4000, "engine_ratio_at_100k": 10.0,
        "reference_patients_per_second": 40, "des_over_reference": 10.0, "cohort_over_reference": 100.0,
        "over_reference_by_medians": {"des": 9.5, "cohort": 90.0},
        "cohort_1m_over_100k_time": 9.5, "des_100k_over_10k_time": 9.9, "psa_workload_seconds": 20.0,
        "psa_workload": {"parameter_sets": 1000, "patients": 10000, "workers": 2, "measured_parameter_sets": 50,
                         "measured_seconds": 1.0, "scaled": True},
        "peak_memory_mb_1m": 1500.0, "measurements": [reference, measurement, million], "table_seconds_1m": 1.0,
        "run_base_median_seconds": 2.5, "run_base_seconds": {"min": 2.1, "median": 2.5, "max": 3.0, "repeats": 3},
        "calibration_seconds": 146.0, "calibration": {"draws": 35_000, "workers": 2, "measured_draws": [1000, 3000],
                                                      "measured_seconds": [10.0, 18.0]},
    }
    text = format_report(result)
    assert ("cd7sim calibrate (35,000 draws, default budget, whole command, 2 cores): 146.0 s (measured 1,000 draws in 10.0 s and "
            "3,000 draws in 18.0 s, extrapolated along the line through them)") in text
    assert "scaled x20" in text and "400" in text
    assert "median 2.5 s (min 2.1, max 3.0)" in text
    assert "built in 1.00 s of 4.00 s (25%)" in text
    assert "10.0x the reference model" in text and "100.0x the reference model" in text
    assert "reference model, x >= 100" in text and "by medians 9.5x and 90.0x" in text
    result["targets"] = target_records(result)
    write_json(result, tmp_path / "b.json")
    loaded = json.loads((tmp_path / "b.json").read_text())
    assert {"des_patients_per_second", "cohort_patients_per_second", "psa_workload_seconds", "peak_memory_mb_1m",
            "cohort_over_reference", "des_over_reference"} <= set(loaded)
    verdicts = {t["key"]: t["met"] for t in loaded["targets"]}
    assert verdicts["cohort_over_reference"] and verdicts["des_over_reference"] and not verdicts["peak_memory_mb_1m"]
    assert not verdicts["calibration_seconds"]


def test_the_calibration_is_timed_at_the_default_budget_or_at_two_smaller_ones():
    """The full benchmark runs the default budget (5,000 prior draws + 10 stages x 3,000: 35,000 draws simulated);
    the quick one budgets of 500 + 1 x 500 and 1,500 + 1 x 1,500 draws."""
    assert calibration_draws(()) == 35_000
    assert [calibration_draws(budget) for budget in QUICK.calibration_budgets] == [1000, 3000]


def test_a_command_time_is_extrapolated_along_the_line_through_two_measurements():
    """10 s at 1,000 draws and 18 s at 3,000: 6 s of fixed costs and 4 ms a draw, so 146 s at 35,000 (not the
    350 s of scaling the first measurement, fixed costs and all)."""
    assert seconds_at([(1000, 10.0), (3000, 18.0)], 35_000) == pytest.approx(146.0)
    assert seconds_at([(3000, 18.0), (1000, 10.0)], 1000) == pytest.approx(10.0)
    assert seconds_at([(35_000, 130.0)], 35_000) == 130.0
    with pytest.raises(ValueError, match="two numbers of draws"):
        seconds_at([(1000, 10.0)], 35_000)


def test_each_target_is_met_or_missed_by_its_bound():
    """Bounds are inclusive: 1,024 MB, 10x, 2.0 s and 90 s meet their targets; 61 s, 99.9x and 1.5M/s miss theirs."""
    result = {"des_patients_per_second": 150_000, "cohort_patients_per_second": 1_500_000, "cohort_over_reference": 99.9,
              "des_over_reference": 10.0, "cohort_1m_over_100k_time": 9.0, "peak_memory_mb_1m": 1024.0, "psa_workload_seconds": 61.0,
              "run_base_median_seconds": 2.0, "calibration_seconds": 90.0}
    assert [verdict for _, _, verdict in target_rows(result)] == ["met", "missed", "missed", "met", "met", "met", "missed", "met",
                                                                   "met"]


def test_the_default_command_is_timed_as_a_whole_process():
    seconds = command_seconds(("--version",), 2)
    assert len(seconds) == 2 and all(s > 0 for s in seconds)


def test_json_through_a_link_writes_the_file_it_names_and_a_loop_is_refused(tmp_path):
    (tmp_path / "bench.json").write_text(json.dumps({"cohort_patients_per_second": 1}))
    (tmp_path / "latest.json").symlink_to("bench.json")
    write_json({"cohort_patients_per_second": 2}, tmp_path / "latest.json")
    assert (tmp_path / "latest.json").is_symlink()
    assert json.loads((tmp_path / "bench.json").read_text()) == {"cohort_patients_per_second": 2}
    (tmp_path / "loop.json").symlink_to("loop.json")
    with pytest.raises(InputError, match=r"^--json: got '.*loop\.json'; a path that ends somewhere is required"):
        check_bench_json(tmp_path / "loop.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bench.json", "latest.json", "loop.json"]
