"""The event draw is a permutation, the same for everyone who has the seed."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from haven.shield.shuffle import Shuffle


@given(seed=st.text(min_size=1, max_size=20), size=st.integers(min_value=0, max_value=3000))
def test_the_draw_is_a_permutation(seed: str, size: int) -> None:
    shuffle = Shuffle(seed, size)
    assert sorted(shuffle.place(n) for n in range(1, size + 1)) == list(range(1, size + 1))


def test_the_draw_is_reproducible_from_its_seed_and_differs_between_seeds() -> None:
    first = [Shuffle("election-night", 500).place(n) for n in range(1, 501)]
    again = [Shuffle("election-night", 500).place(n) for n in range(1, 501)]
    other = [Shuffle("another seed", 500).place(n) for n in range(1, 501)]
    assert first == again
    assert first != other
    assert first != list(range(1, 501))  # it does shuffle


def test_early_arrivals_get_no_edge() -> None:
    """Over many draws, the first arrival's place is spread over the whole pre-queue."""
    places = [Shuffle(f"seed {i}", 100).place(1) for i in range(400)]
    assert sum(places) / len(places) == pytest.approx(50.5, abs=6)
    assert min(places) <= 10
    assert max(places) >= 90


def test_the_order_lists_tickets_by_place() -> None:
    shuffle = Shuffle("audit", 50)
    order = list(shuffle.order())
    assert [shuffle.place(number) for number in order] == list(range(1, 51))


def test_a_number_outside_the_prequeue_is_refused() -> None:
    with pytest.raises(ValueError, match="outside"):
        Shuffle("s", 10).place(11)
