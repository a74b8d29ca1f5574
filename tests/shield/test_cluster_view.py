"""The cluster's view of the room (``haven room status``): every worker reports its own view to the
store at each tick, and the operators' API adds them up."""

from __future__ import annotations

import json

from haven.shield.admin import cluster_view
from haven.shield.store import Store

ROOM = "main"
T0 = 1_764_000_000.0


async def test_the_store_keeps_each_workers_last_report_while_it_is_fresh(store: Store) -> None:
    await store.report(ROOM, "198.18.0.3:8000/11", '{"joins": 1}', T0)
    await store.report(ROOM, "198.18.0.3:8000/11", '{"joins": 2}', T0 + 1)  # the last one counts
    await store.report(ROOM, "198.18.0.4:8000/12", '{"joins": 5}', T0 + 1)
    assert await store.reports(ROOM, T0 + 2, 10.0) == {
        "198.18.0.3:8000/11": '{"joins": 2}',
        "198.18.0.4:8000/12": '{"joins": 5}',
    }
    await store.report(ROOM, "198.18.0.4:8000/12", '{"joins": 6}', T0 + 20)
    # A worker silent for longer than ``fresh`` is gone (killed, say), and forgotten.
    assert await store.reports(ROOM, T0 + 21, 10.0) == {"198.18.0.4:8000/12": '{"joins": 6}'}
    assert await store.reports(ROOM, T0 + 21, 100.0) == {"198.18.0.4:8000/12": '{"joins": 6}'}
    assert await store.reports("other", T0, 10.0) == {}


def test_the_cluster_view_adds_up_the_workers() -> None:
    reports = {
        "a/1": json.dumps(
            {"worker": "198.18.0.3:8000/1", "admission_rate": 2.5, "admitted": 10, "degraded": False}
        ),
        "a/2": json.dumps(
            {"worker": "198.18.0.3:8000/2", "admission_rate": 1.5, "admitted": 4, "degraded": True}
        ),
        "b/3": json.dumps(
            {"worker": "198.18.0.4:8000/3", "admission_rate": 1.0, "admitted": 1, "degraded": False}
        ),
        "torn": "{not json",
    }
    view = cluster_view(reports)
    assert view["workers"] == 3
    assert view["hosts"] == 2
    assert view["degraded"] == 1
    assert view["admission_rate"] == 5.0
    assert view["admitted"] == 15
    assert [each["worker"] for each in view["each"]] == sorted(each["worker"] for each in view["each"])
