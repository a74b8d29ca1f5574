"""The overload benchmark's arithmetic, on synthetic figures: the per-class recorder, the targets
block, the options and the plot (the runs themselves are measured by ``python -m bench.overload``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench import overload
from bench.overload import ClassRecorder, parse_arguments, plot, spread, spread_keys, targets


def test_the_recorder_keeps_admitted_answers_and_timeouts_per_class() -> None:
    recorder = ClassRecorder(slo=1.0)
    recorder.answer("home", "reader", 200, 0.0, 0.010)
    recorder.answer("sign in", "applicant", 303, 0.0, 0.200)
    recorder.answer("sign in", "applicant", 503, 0.0, 0.001)  # shed: not admitted
    recorder.answer("waiting", "applicant", 200, 0.0, 0.002, room=True)  # the room's, not the site's
    recorder.timeout("submit", "applicant", 1.0, 31.0)

    assert recorder.admitted.get_total_count() == 2
    assert recorder.admitted_by_class["applicant"].get_total_count() == 1
    assert recorder.admitted_by_class["reader"].get_total_count() == 1
    assert recorder.timeouts_by_class == {"applicant": 1}
    assert recorder.timeouts == 1  # the surge's own figures are kept
    assert recorder.timed_out == [(1.0, 31.0)]
    assert recorder.by_class["applicant"].get_total_count() == 3


def row(goodput: float, applicants: float, p99: float, timeouts: int = 0) -> dict[str, Any]:
    return {
        "goodput": spread([goodput]),
        "applicant_goodput": spread([applicants]),
        "admitted_p99_ms": spread([p99]),
        "timeouts": spread([timeouts]),
    }


def test_targets_are_worked_out_from_the_medians() -> None:
    summary = {
        "on": {
            "0.5": row(2.5, 0.7, 200.0),
            "1": row(5.0, 1.0, 250.0),
            "10": row(4.8, 0.95, 380.0),
            "50": row(4.6, 0.92, 390.0),
            "100": row(4.4, 0.5, 450.0),
        }
    }
    runs = {
        "on": {
            "1": [{"timeouts": 0, "lost_submissions": 0, "duplicated_submissions": 0}],
            "100": [{"timeouts": 2, "lost_submissions": 0, "duplicated_submissions": 1}],
        }
    }
    found = targets(summary, runs)["on"]

    assert found["applicant_goodput_vs_1x"] == {"10": 0.95, "50": 0.92, "100": 0.5}
    assert found["goodput_vs_1x"] == {"10": 0.96, "50": 0.92, "100": 0.88}
    assert found["admitted_p99_vs_0.5x"]["100"] == 2.25
    assert found["timeouts_all_runs"] == 2
    assert found["duplicated_submissions"] == 1
    assert found["met"] == {
        "applicant_goodput": False,
        "goodput": False,
        "admitted_p99": False,
        "zero_timeouts": False,
        "nothing_lost_or_duplicated": False,
    }


def test_targets_met_and_the_cpu_set_beside_a_baseline() -> None:
    summary = {"on": {"0.5": row(2.5, 0.7, 200.0), "1": row(5.0, 1.0, 250.0), "10": row(5.0, 1.0, 300.0)}}
    runs = {"on": {"10": [{"timeouts": 0, "lost_submissions": 0, "duplicated_submissions": 0}]}}
    class_cpu = {"applicant": {"cpu_ms_per_journey": 250.0}, "reader": {"cpu_ms_per_journey": 2.0}}
    baseline = {"applicant": {"cpu_ms_per_journey": 600.0}, "reader": 2.5}

    found = targets(summary, runs, class_cpu, baseline)

    assert all(found["on"]["met"].values())
    assert found["class_cpu"]["vs_baseline"] == {"applicant": 0.417, "reader": 0.8}
    assert found["class_cpu"]["met"] is True


def test_a_level_without_figures_gives_no_ratio() -> None:
    summary = {"on": {"1": row(5.0, 0.0, 250.0), "10": row(4.0, 0.0, 300.0)}}
    found = targets(summary, {"on": {}})["on"]
    assert found["applicant_goodput_vs_1x"] == {"10": None}  # nothing at 1x to divide by
    assert found["admitted_p99_vs_0.5x"] == {"1": None, "10": None}  # no 0.5x level
    assert found["met"]["applicant_goodput"] is None


def test_quick_changes_the_defaults_only() -> None:
    quick = parse_arguments(["--quick"])
    assert (quick.levels, quick.repeats, quick.duration) == ("1,10", 1, 30.0)
    assert parse_arguments(["--quick", "--levels", "1,50"]).levels == "1,50"
    full = parse_arguments([])
    assert full.levels == "0.5,1,2,5,10,20,50,100"
    assert full.class_probe_seconds == 60.0


def test_the_plot_is_written(tmp_path: Path) -> None:
    classes = list(overload.CLASSES)
    keys = spread_keys(classes)

    def level(value: float) -> dict[str, Any]:
        return {key: spread([value, value * 1.1]) for key in keys}

    result = {
        "method": {"classes": classes},
        "summary": {"on": {"1": level(1.0), "10": level(2.0)}, "off": {"1": level(1.0), "10": level(0.5)}},
        "class_cpu_ms_per_journey": {"reader": 2.6, "checker": 41.0, "applicant": 640.0},
    }
    path = plot(result, tmp_path)
    assert path == tmp_path / "overload.png"
    assert path.read_bytes().startswith(b"\x89PNG")
