"""registry.stats.wilson_interval: the 95% Wilson score interval the service stores on every result."""

from __future__ import annotations

import pytest

from registry.stats import wilson_interval


@pytest.mark.parametrize(
    ("successes", "trials", "lower", "upper"),
    [
        (5, 10, 0.2366, 0.7634),  # Llama3.1-70B-Instruct, arXiv 2412.12140
        (9, 10, 0.5958, 0.9821),  # Qwen2.5-72B-Instruct, arXiv 2412.12140
        (7, 10, 0.3968, 0.8922),
        (3, 10, 0.1078, 0.6032),
        (0, 10, 0.0, 0.2775),
        (10, 10, 0.7225, 1.0),
        (1, 1, 0.2065, 1.0),
        (50, 100, 0.4038, 0.5962),
    ],
)
def test_it_matches_known_wilson_intervals(successes, trials, lower, upper):
    low, high = wilson_interval(successes, trials)

    assert low == pytest.approx(lower, abs=1e-4)
    assert high == pytest.approx(upper, abs=1e-4)


def test_no_successes_gives_a_lower_bound_of_exactly_zero():
    assert wilson_interval(0, 10)[0] == 0.0
    assert wilson_interval(0, 1_000_000)[0] == 0.0


def test_all_successes_give_an_upper_bound_of_exactly_one():
    assert wilson_interval(10, 10)[1] == 1.0
    assert wilson_interval(999_999, 999_999)[1] == 1.0


def test_a_single_success_in_many_trials_has_a_lower_bound_above_zero():
    lower, upper = wilson_interval(1, 1000)

    assert 0.0 < lower < 0.001 < upper


def test_the_interval_is_ordered_and_contains_the_observed_rate():
    for trials in (1, 2, 7, 10, 33):
        for successes in range(trials + 1):
            lower, upper = wilson_interval(successes, trials)
            assert 0.0 <= lower <= successes / trials <= upper <= 1.0


def test_a_wider_confidence_gives_a_wider_interval():
    narrow = wilson_interval(5, 10, z=1.0)
    wide = wilson_interval(5, 10)

    assert wide[0] < narrow[0] and narrow[1] < wide[1]


@pytest.mark.parametrize("trials", [0, -1])
def test_it_rejects_a_non_positive_number_of_trials(trials):
    with pytest.raises(ValueError, match="trials must be positive"):
        wilson_interval(0, trials)


@pytest.mark.parametrize("successes", [-1, 11])
def test_it_rejects_successes_outside_zero_to_trials(successes):
    with pytest.raises(ValueError, match="successes must be between 0 and trials"):
        wilson_interval(successes, 10)
