"""The surge's arithmetic on synthetic data: fairness (Kendall tau distance), ETA error, goodput."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from haven.surge.journeys import ticket_number
from haven.surge.record import Recorder, eta_error, kendall_tau_distance


def brute_force(first: list[float], second: list[float]) -> float:
    pairs = list(itertools.combinations(range(len(first)), 2))
    discordant = sum(1 for i, j in pairs if (first[i] - first[j]) * (second[i] - second[j]) < 0)
    return discordant / len(pairs) if pairs else 0.0


def test_the_same_order_is_distance_zero_and_the_reverse_is_one() -> None:
    order = [float(i) for i in range(100)]
    assert kendall_tau_distance(order, order) == 0.0
    assert kendall_tau_distance(order, order[::-1]) == 1.0


def test_one_swapped_pair_among_five_people_is_one_tenth() -> None:
    assert kendall_tau_distance([1, 2, 3, 4, 5], [1, 2, 4, 3, 5]) == pytest.approx(1 / 10)


@given(
    st.lists(
        st.tuples(st.integers(0, 30), st.integers(0, 30)),
        min_size=0,
        max_size=60,
    )
)
def test_the_fast_count_agrees_with_counting_every_pair(pairs: list[tuple[int, int]]) -> None:
    first = [float(a) for a, _ in pairs]
    second = [float(b) for _, b in pairs]
    assert kendall_tau_distance(first, second) == pytest.approx(brute_force(first, second))


def test_eta_error_is_relative_to_the_actual_wait() -> None:
    assert eta_error(predicted=100, actual=100) == 0
    assert eta_error(predicted=75, actual=100) == pytest.approx(0.25)
    assert eta_error(predicted=200, actual=100) == pytest.approx(1.0)
    assert eta_error(predicted=0.5, actual=0.0) == pytest.approx(0.5)  # under a second counts as 1 s


def test_the_recorder_measures_fairness_eta_and_waits_of_queued_people() -> None:
    recorder = Recorder(slo=1.0)
    # Four people: the third is let in before the second (one discordant pair of six).
    plan = [
        (0.0, 10.0, (8, 12)),
        (1.0, 14.0, (12, 16)),
        (2.0, 13.0, (20, 30)),
        (3.0, 20.0, (10, 14)),
    ]
    for number, (arrived, admitted, (low, high)) in enumerate(plan):
        entry = recorder.join(arrived, arrived)
        entry.ticket = number if number != 1 else 4  # the second person's place was lost and taken again
        entry.predicted_low, entry.predicted_high = low, high
        recorder.admit(entry, admitted)
    quitter = recorder.join(4.0, 4.0)
    recorder.give_up(quitter, 30.0)
    fairness = recorder.fairness()
    assert fairness["queued"] == 5
    assert fairness["admitted_from_queue"] == 4
    assert fairness["gave_up_in_queue"] == 1
    assert fairness["kendall_tau_distance_entry"] == pytest.approx(1 / 6, abs=1e-4)
    assert fairness["kendall_tau_distance"] == pytest.approx(2 / 6, abs=1e-4)  # ticket 4 came after 2 and 3
    eta = recorder.eta()
    # Waits 10, 13, 11, 17 against midpoints 10, 14, 25, 12.
    errors = sorted([0.0, 1 / 13, 14 / 11, 5 / 17])
    assert eta["measured"] == 4
    assert eta["median_error"] == pytest.approx((errors[1] + errors[2]) / 2, abs=1e-4)
    assert eta["within_range"] == pytest.approx(0.5)  # 10 in [8, 12], 13 in [12, 16]
    assert sorted(recorder.queue_waits()) == [10.0, 11.0, 13.0, 17.0]
    assert recorder.waiting_now == 0


def test_goodput_counts_only_answers_within_the_slo_and_never_the_waiting_room() -> None:
    recorder = Recorder(slo=0.5)
    recorder.answer("home", "reader", 200, intended=0.0, done=0.2)
    recorder.answer("home", "reader", 200, intended=0.0, done=0.9)  # too slow
    recorder.answer("home", "reader", 503, intended=0.0, done=0.1)  # busy is not good
    recorder.answer("status", "reader", 200, intended=0.0, done=0.1, room=True)
    second = recorder.seconds[0]
    assert (second.answered, second.good) == (4, 1)
    assert recorder.served.get_total_count() == 3
    assert recorder.room.get_total_count() == 1


def test_the_ticket_number_is_read_from_the_cookie_and_nothing_else_is() -> None:
    assert ticket_number("t.main.42.1700000000000.12.DPxA.ucTo2WxhmUSbiAkts8oawg") == 42
    assert ticket_number("p.main.abc.1.2.DPxA.mac") == -1
    assert ticket_number("garbage") == -1
    assert ticket_number("t.main.x.1.2.k.m") == -1
