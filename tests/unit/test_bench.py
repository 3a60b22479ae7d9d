"""The benchmark's report and JSON (a tiny real measurement; no timing is asserted)."""

from __future__ import annotations

import json

from sim.simulation.bench import format_report, measure, write_json


def test_measure_counts_trajectories_and_memory():
    m = measure("cohort", 500, 2)
    assert m.trajectories == 4 * 500
    assert len(m.seconds) == 2 and all(s > 0 for s in m.seconds)
    assert m.peak_memory_mb > 10
    assert m.per_second == m.trajectories / m.median_seconds


def test_report_and_json_keys(tmp_path):
    measurement = {"engine": "des", "patients": 10, "trajectories": 40, "seconds": [0.1], "peak_memory_mb": 100.0,
                   "median_seconds": 0.1, "per_second": 400}
    result = {
        "des_patients_per_second": 400, "cohort_patients_per_second": 4000, "engine_ratio_at_100k": 10.0,
        "cohort_1m_over_100k_time": 9.5, "des_100k_over_10k_time": 9.9, "psa_workload_seconds": 20.0,
        "psa_workload": {"parameter_sets": 1000, "patients": 10000, "workers": 2, "measured_parameter_sets": 50,
                         "measured_seconds": 1.0, "scaled": True},
        "peak_memory_mb_1m": 1500.0, "measurements": [measurement],
    }
    text = format_report(result)
    assert "scaled x20" in text and "400" in text
    write_json(result, tmp_path / "b.json")
    loaded = json.loads((tmp_path / "b.json").read_text())
    assert {"des_patients_per_second", "cohort_patients_per_second", "psa_workload_seconds", "peak_memory_mb_1m"} <= set(loaded)
