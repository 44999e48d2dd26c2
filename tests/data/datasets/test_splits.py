"""Seeded splits (fakescan.data.datasets.splits): deterministic, whole groups, right proportions."""

from __future__ import annotations

from collections import Counter

import pytest

from fakescan.data.datasets.splits import allocate, check_fractions, split_by_group, split_groups
from fakescan.errors import ConfigError

IDS = [f"video{n:03d}" for n in range(100)]
GROUPS = [f"actor{n % 17}" for n in range(100)]


def test_same_seed_same_split_whatever_the_order() -> None:
    first = split_by_group(IDS, GROUPS, (0.7, 0.15, 0.15), seed=5)
    pairs = list(zip(IDS, GROUPS, strict=True))[::-1]
    second = split_by_group([i for i, _ in pairs], [g for _, g in pairs], (0.7, 0.15, 0.15), seed=5)
    assert first == second


def test_another_seed_moves_groups() -> None:
    assert split_groups(GROUPS, (0.7, 0.15, 0.15), 0) != split_groups(GROUPS, (0.7, 0.15, 0.15), 1)


def test_a_group_never_straddles_two_splits() -> None:
    splits = split_by_group(IDS, GROUPS, (0.6, 0.2, 0.2), seed=3)
    by_group: dict[str, set[str]] = {}
    for video, group in zip(IDS, GROUPS, strict=True):
        by_group.setdefault(group, set()).add(splits[video])
    assert all(len(found) == 1 for found in by_group.values())


def test_proportions_are_of_groups() -> None:
    assigned = split_groups([f"g{n}" for n in range(20)], (0.7, 0.15, 0.15), seed=0)
    assert Counter(assigned.values()) == {"train": 14, "val": 3, "test": 3}


def test_small_sets_still_fill_every_wanted_split() -> None:
    assert Counter(split_groups(["a", "b", "c"], (0.8, 0.1, 0.1), seed=0).values()) == {
        "train": 1,
        "val": 1,
        "test": 1,
    }
    assert set(split_groups(["a", "b", "c"], (0.9, 0.1, 0.0), seed=0).values()) == {"train", "val"}


def test_adding_a_group_moves_few_others() -> None:
    groups = [f"g{n}" for n in range(200)]
    before = split_groups(groups, (0.8, 0.1, 0.1), seed=0)
    after = split_groups([*groups, "newcomer"], (0.8, 0.1, 0.1), seed=0)
    moved = sum(before[g] != after[g] for g in groups)
    assert moved <= 2


def test_strata_split_each_class_alike() -> None:
    labels = ["real"] * 50 + ["fake"] * 50
    splits = split_by_group(IDS, None, (0.8, 0.2, 0.0), seed=0, strata=labels)
    assert Counter(zip(labels, splits.values(), strict=True)) == {
        ("real", "train"): 40,
        ("real", "val"): 10,
        ("fake", "train"): 40,
        ("fake", "val"): 10,
    }
    with pytest.raises(ValueError, match="two strata"):
        split_by_group(["a", "b"], ["g", "g"], (0.5, 0.5, 0), 0, strata=["real", "fake"])


def test_allocate_sums_to_total() -> None:
    for total in range(30):
        assert sum(allocate(total, (0.72, 0.14, 0.14))) == total


@pytest.mark.parametrize("fractions", [(0.8, 0.1), (0.5, 0.5, 0.5), (1.2, -0.1, -0.1)])
def test_bad_fractions_are_a_config_error(fractions: tuple[float, ...]) -> None:
    with pytest.raises(ConfigError, match="summing to 1"):
        check_fractions(fractions)
