"""The benchmark's report and JSON (a tiny real measurement; no timing is asserted)."""

from __future__ import annotations

import json

import pytest

from sim.inputs.errors import InputError
from sim.simulation.bench import check_bench_json, command_seconds, format_report, measure, target_rows, write_json


def test_measure_counts_trajectories_and_memory():
    m = measure("cohort", 500, 2)
    assert m.trajectories == 4 * 500
    assert len(m.table_seconds) == 2 and all(0 < t < s for t, s in zip(m.table_seconds, m.seconds, strict=True))
    assert len(m.seconds) == 2 and all(s > 0 for s in m.seconds)
    assert m.peak_memory_mb > 10
    assert m.per_second == m.trajectories / m.median_seconds


def test_report_and_json_keys(tmp_path):
    measurement = {"engine": "des", "patients": 10, "trajectories": 40, "seconds": [0.1], "peak_memory_mb": 100.0,
                   "median_seconds": 0.1, "per_second": 400, "table_seconds": [0.01]}
    million = {"engine": "cohort", "patients": 1_000_000, "trajectories": 4_000_000, "seconds": [4.0],
               "peak_memory_mb": 1700.0, "median_seconds": 4.0, "per_second": 1_000_000, "table_seconds": [1.0]}
    result = {
        "des_patients_per_second": 400, "cohort_patients_per_second": 4000, "engine_ratio_at_100k": 10.0,
        "cohort_1m_over_100k_time": 9.5, "des_100k_over_10k_time": 9.9, "psa_workload_seconds": 20.0,
        "psa_workload": {"parameter_sets": 1000, "patients": 10000, "workers": 2, "measured_parameter_sets": 50,
                         "measured_seconds": 1.0, "scaled": True},
        "peak_memory_mb_1m": 1500.0, "measurements": [measurement, million], "table_seconds_1m": 1.0,
        "run_base_median_seconds": 2.5, "run_base_seconds": {"min": 2.1, "median": 2.5, "max": 3.0, "repeats": 3},
    }
    text = format_report(result)
    assert "scaled x20" in text and "400" in text
    assert "median 2.5 s (min 2.1, max 3.0)" in text
    assert "built in 1.00 s of 4.00 s (25%)" in text
    write_json(result, tmp_path / "b.json")
    loaded = json.loads((tmp_path / "b.json").read_text())
    assert {"des_patients_per_second", "cohort_patients_per_second", "psa_workload_seconds", "peak_memory_mb_1m"} <= set(loaded)


def test_each_target_is_met_or_missed_by_its_bound():
    result = {"des_patients_per_second": 150_000, "cohort_patients_per_second": 1_500_000, "cohort_1m_over_100k_time": 9.0,
              "peak_memory_mb_1m": 2048.0, "psa_workload_seconds": 61.0, "run_base_median_seconds": 2.0}
    """Bounds are inclusive: 2,048 MB and 2.0 s meet their targets; 61 s and 1.5M/s miss theirs."""
    assert [verdict for _, _, verdict in target_rows(result)] == ["met", "missed", "met", "met", "missed", "met"]


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
