"""Class names, multi-class labels, balancing and sampler weights (fakescan.data.datasets.labels)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from fakescan.data.datasets import (
    VideoRecord,
    balance,
    build_index,
    class_index,
    class_names,
    class_weights,
    split_counts,
)
from fakescan.errors import ConfigError
from tests.data.datasets.layouts import CLASSIC, make_ffpp


@pytest.fixture
def ffpp(tmp_path: Path) -> list[VideoRecord]:
    return build_index("ffpp", make_ffpp(tmp_path, methods=[*CLASSIC, "FaceShifter"]))


def test_ffpp_classes_in_the_benchmark_order(ffpp: list[VideoRecord]) -> None:
    classic = [r for r in ffpp if r.method != "FaceShifter"]
    assert class_names(classic) == ("real", "Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures")
    assert class_names(reversed(ffpp))[-1] == "FaceShifter" and len(class_names(ffpp)) == 6
    labels = class_index(classic)
    assert {r.method: label for r, label in zip(classic, labels, strict=True)} == {
        "real": 0,
        "Deepfakes": 1,
        "Face2Face": 2,
        "FaceSwap": 3,
        "NeuralTextures": 4,
    }


def test_class_index_refuses_an_unknown_method(ffpp: list[VideoRecord]) -> None:
    with pytest.raises(ConfigError, match="FaceShifter"):
        class_index(ffpp, names=("real", *CLASSIC))


def test_balance_subsamples_the_larger_class_per_split(ffpp: list[VideoRecord]) -> None:
    classic = [r for r in ffpp if r.method != "FaceShifter"]
    kept = balance(classic, seed=1)
    for split, reals in (("train", 6), ("val", 2), ("test", 2)):
        in_split = [r for r in kept if r.split == split]
        assert Counter(r.label for r in in_split) == {0: reals, 1: reals}
    train_fakes = Counter(r.method for r in kept if r.split == "train" and r.label == 1)
    assert sorted(train_fakes.values()) == [1, 1, 2, 2]
    assert kept == [r for r in classic if r in set(kept)], "input order is kept"
    assert balance(classic, seed=1) == kept and balance(classic, seed=2) != kept
    assert balance(classic, "none") == classic
    with pytest.raises(ConfigError, match="subsample"):
        balance(classic, "oversample")  # type: ignore[arg-type]


def test_class_weights_give_every_class_an_equal_share(ffpp: list[VideoRecord]) -> None:
    train = [r for r in ffpp if r.split == "train"]
    for by, key in (("label", lambda r: r.label), ("method", lambda r: r.method)):
        weights = class_weights(train, by=by)  # type: ignore[arg-type]
        shares: Counter[object] = Counter()
        for record, weight in zip(train, weights, strict=True):
            shares[key(record)] += weight
        assert sum(weights) == pytest.approx(1.0)
        assert len({round(v, 9) for v in shares.values()}) == 1


def test_split_counts_table(ffpp: list[VideoRecord]) -> None:
    counts = split_counts(ffpp)
    assert list(counts) == ["real", *CLASSIC, "FaceShifter"]
    assert counts["real"] == {"train": 6, "val": 2, "test": 2}
