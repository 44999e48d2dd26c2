"""Seeded splits for data sets without an official one: pure, deterministic functions.

Nothing here reads a file. Items are put in *groups* (a video alone, an actor, a DFDC original with
its fakes); whole groups go to one split, so a group never straddles two.

The order in which groups are dealt is a keyed hash of ``(seed, group)``, not a shuffled list:
the same seed gives the same split on every machine and Python version, whatever order the groups
were listed in, and adding a group to a data set moves only the groups at the edges of the cuts.
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence

from fakescan.data.datasets.index import SPLITS, Split
from fakescan.errors import ConfigError

__all__ = ["Fractions", "allocate", "check_fractions", "seeded_order", "split_by_group", "split_groups"]

Fractions = tuple[float, float, float]
"""Shares of ``(train, val, test)``, each in ``[0, 1]``, summing to 1."""


def check_fractions(fractions: Sequence[float]) -> Fractions:
    """``fractions`` as a ``(train, val, test)`` tuple, or :class:`ConfigError` if they are not one.

    >>> check_fractions([0.8, 0.1, 0.1])
    (0.8, 0.1, 0.1)
    >>> check_fractions([0.5, 0.6, 0.0])
    Traceback (most recent call last):
    ...
    fakescan.errors.ConfigError: split fractions must be three numbers >= 0 (train, val, test) summing to 1, got [0.5, 0.6, 0.0]
    """  # noqa: E501
    values = [float(value) for value in fractions]
    if len(values) != 3 or min(values) < 0 or not math.isclose(sum(values), 1.0, abs_tol=1e-6):
        raise ConfigError(
            "split fractions must be three numbers >= 0 (train, val, test) summing to 1,"
            f" got {list(fractions)}"
        )
    return values[0], values[1], values[2]


def allocate(total: int, weights: Sequence[float]) -> list[int]:
    """Share ``total`` items among ``weights`` by the largest-remainder method (ties: first wins).

    >>> allocate(10, (0.8, 0.1, 0.1))
    [8, 1, 1]
    >>> allocate(7, (0.7, 0.15, 0.15))
    [5, 1, 1]
    >>> allocate(5, (3, 1))
    [4, 1]
    """
    scale = sum(weights)
    if total <= 0 or scale <= 0:
        return [0] * len(weights)
    exact = [total * weight / scale for weight in weights]
    counts = [math.floor(value) for value in exact]
    by_remainder = sorted(range(len(weights)), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    return counts


def seeded_order(items: Iterable[str], seed: int) -> list[str]:
    """The distinct ``items`` in a pseudo-random order fixed by ``seed`` (input order is irrelevant).

    >>> seeded_order(["b", "a", "c", "a"], 0) == seeded_order(["c", "b", "a"], 0)
    True
    """

    def key(item: str) -> tuple[bytes, str]:
        return hashlib.sha256(f"{seed}\0{item}".encode()).digest(), item

    return sorted(set(items), key=key)


def _group_counts(total: int, fractions: Fractions) -> list[int]:
    """Groups per split; every split with a share above 0 gets at least one group if there are enough."""
    counts = allocate(total, fractions)
    for i, share in enumerate(fractions):
        if share > 0 and counts[i] == 0:
            donor = max(range(len(counts)), key=lambda j: counts[j])
            if counts[donor] > 1:
                counts[donor] -= 1
                counts[i] += 1
    return counts


def split_groups(groups: Iterable[str], fractions: Sequence[float], seed: int) -> dict[str, Split]:
    """Deal whole groups to train, val and test in proportion to ``fractions``.

    Proportions are of groups, not of items. A split with a share above 0 gets at least one group
    when there are enough groups; a share of 0 gets none.

    >>> split_groups(["actor1", "actor2", "actor3", "actor4"], (0.5, 0.25, 0.25), seed=0)
    {'actor4': 'train', 'actor1': 'train', 'actor3': 'val', 'actor2': 'test'}
    >>> set(split_groups(["a", "b"], (0, 0, 1), seed=7).values())
    {'test'}
    """
    shares = check_fractions(fractions)
    order = seeded_order(groups, seed)
    counts = _group_counts(len(order), shares)
    assigned: dict[str, Split] = {}
    start = 0
    for split, count in zip(SPLITS, counts, strict=True):
        for group in order[start : start + count]:
            assigned[group] = split
        start += count
    return assigned


def split_by_group(
    ids: Sequence[str],
    groups: Sequence[str] | None,
    fractions: Sequence[float],
    seed: int,
    strata: Sequence[str] | None = None,
) -> dict[str, Split]:
    """The split of every id, dealing whole groups (``groups[i]`` is the group of ``ids[i]``).

    With ``groups=None`` every id is its own group (a split by video). With ``strata`` (e.g. the
    class of each id), the groups of each stratum are dealt separately, so every class is split in
    the same proportions; a group must then lie within one stratum.

    >>> ids = ["fake1", "fake2", "orig", "other"]
    >>> splits = split_by_group(ids, ["orig", "orig", "orig", "other"], (0.5, 0.5, 0.0), seed=1)
    >>> len({splits["fake1"], splits["fake2"], splits["orig"]}), splits["orig"] != splits["other"]
    (1, True)
    >>> from collections import Counter
    >>> classes = ["real"] * 4 + ["fake"] * 4
    >>> dealt = split_by_group([f"v{i}" for i in range(8)], None, (0.5, 0.5, 0.0), 0, strata=classes)
    >>> sorted(Counter(zip(classes, dealt.values())).values())
    [2, 2, 2, 2]
    """
    if groups is None:
        groups = ids
    if len(groups) != len(ids) or (strata is not None and len(strata) != len(ids)):
        raise ValueError(f"{len(ids)} ids but {len(groups)} groups or {len(strata or ids)} strata")
    if strata is None:
        by_group = split_groups(groups, fractions, seed)
    else:
        members: dict[str, set[str]] = defaultdict(set)
        stratum_of: dict[str, str] = {}
        for group, stratum in zip(groups, strata, strict=True):
            if stratum_of.setdefault(group, stratum) != stratum:
                raise ValueError(f"group {group!r} lies in two strata ({stratum_of[group]!r}, {stratum!r})")
            members[stratum].add(group)
        by_group = {}
        for stratum in sorted(members):
            by_group.update(split_groups(members[stratum], fractions, seed))
    return {item: by_group[group] for item, group in zip(ids, groups, strict=True)}
