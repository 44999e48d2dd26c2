"""Metrics against hand-computed values and scikit-learn; aggregation; thresholds; the accumulator."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn import metrics as skm

from fakescan.errors import DatasetLayoutError
from fakescan.evaluate.metrics import (
    ScoreAccumulator,
    binary_metrics,
    calibrate_threshold,
    eer,
    multiclass_metrics,
    per_group_metrics,
    video_scores,
)


def random_scores(seed: int, n: int = 400, shift: float = 0.8) -> tuple[np.ndarray, np.ndarray]:
    """Labels and overlapping (but informative) fake probabilities."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    logits = rng.normal(size=n) + shift * (2 * labels - 1)
    return labels, 1 / (1 + np.exp(-logits))


def reference_eer(labels: np.ndarray, scores: np.ndarray) -> float:
    """The EER as widely computed in the field: the root of 1 − x − TPR(x) on the interpolated ROC."""
    from scipy.interpolate import interp1d
    from scipy.optimize import brentq

    fpr, tpr, _ = skm.roc_curve(labels, scores)
    return float(brentq(lambda x: 1.0 - x - interp1d(fpr, tpr)(x), 0.0, 1.0))


# ---- binary metrics ------------------------------------------------------------------------------


def test_hand_computed_values() -> None:
    labels = [0, 0, 0, 1, 1, 1]
    scores = [0.1, 0.6, 0.3, 0.7, 0.4, 0.9]
    m = binary_metrics(labels, scores, threshold=0.5)
    # (fake, real) pairs ranked right: 0.7 beats 3 reals, 0.4 beats 2 (not 0.6), 0.9 beats 3.
    assert m.auc == pytest.approx(8 / 9)
    assert (m.tn, m.fp, m.fn, m.tp) == (2, 1, 1, 2)
    assert m.acc == pytest.approx(4 / 6)
    assert m.balanced_acc == pytest.approx((2 / 3 + 2 / 3) / 2)
    assert (m.n, m.n_real, m.n_fake, m.threshold, m.note) == (6, 3, 3, 0.5, "")
    # AP: precision at each fake in score order: 0.9 (1/1), 0.7 (2/2), 0.4 (3/4, after real 0.6).
    assert m.ap == pytest.approx((1 + 1 + 3 / 4) / 3)


def test_threshold_is_inclusive() -> None:
    m = binary_metrics([0, 1], [0.5, 0.5], threshold=0.5)
    assert (m.fp, m.tp) == (1, 1)


@pytest.mark.parametrize("seed", range(5))
def test_agrees_with_scikit_learn(seed: int) -> None:
    labels, scores = random_scores(seed)
    threshold = 0.3 + 0.1 * seed
    m = binary_metrics(labels, scores, threshold)
    predicted = (scores >= threshold).astype(int)
    assert m.auc == pytest.approx(skm.roc_auc_score(labels, scores), abs=1e-12)
    assert m.ap == pytest.approx(skm.average_precision_score(labels, scores), abs=1e-12)
    assert m.acc == pytest.approx(skm.accuracy_score(labels, predicted), abs=1e-12)
    assert m.balanced_acc == pytest.approx(skm.balanced_accuracy_score(labels, predicted), abs=1e-12)
    assert [[m.tn, m.fp], [m.fn, m.tp]] == skm.confusion_matrix(labels, predicted).tolist()
    assert m.eer == pytest.approx(reference_eer(labels, scores), abs=1e-9)


def test_eer_known_cases() -> None:
    assert eer([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == (0.0, 0.8)
    assert eer([0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1])[0] == 1.0
    # One real (0.5) and four fakes, one of them (0.1) below the real: FNR = 1/4 while FPR moves
    # from 0 to 1 between thresholds 0.7 and 0.5, so the curves cross a quarter of the way along.
    rate, threshold = eer([0, 1, 1, 1, 1], [0.5, 0.9, 0.8, 0.7, 0.1])
    assert rate == pytest.approx(0.25)
    assert threshold == pytest.approx(0.65)
    # Ties everywhere: an uninformative detector has EER 0.5.
    assert eer([0, 1, 0, 1], [0.5] * 4)[0] == pytest.approx(0.5)


def test_eer_is_where_false_rates_meet() -> None:
    labels, scores = random_scores(11, n=2000)
    m = binary_metrics(labels, scores, threshold=0.5)
    at = binary_metrics(labels, scores, threshold=m.eer_threshold)
    fpr, fnr = at.fp / at.n_real, at.fn / at.n_fake
    assert abs(fpr - m.eer) < 0.01
    assert abs(fnr - m.eer) < 0.01


@pytest.mark.parametrize(("labels", "present"), [([0, 0, 0], "real"), ([1, 1], "fake")])
def test_one_class_is_nan_with_a_reason(labels: list[int], present: str) -> None:
    m = binary_metrics(labels, [0.2, 0.7, 0.4][: len(labels)])
    assert all(math.isnan(v) for v in (m.auc, m.ap, m.eer, m.eer_threshold, m.balanced_acc))
    assert present in m.note
    assert not math.isnan(m.acc)
    assert eer(labels, [0.5] * len(labels))[0] != eer(labels, [0.5] * len(labels))[0]  # nan


def test_empty_input() -> None:
    m = binary_metrics([], [])
    assert m.n == 0 and math.isnan(m.acc) and m.note == "no samples"


@pytest.mark.parametrize(
    ("labels", "scores"),
    [([0, 1], [0.1]), ([0, 2], [0.1, 0.2]), ([0, 1], [0.1, float("nan")]), ([[0, 1]], [[0.1, 0.2]])],
)
def test_bad_input_raises(labels: list, scores: list) -> None:
    with pytest.raises(ValueError):
        binary_metrics(labels, scores)


# ---- thresholds ----------------------------------------------------------------------------------


def brute_force_best(labels: np.ndarray, scores: np.ndarray, objective: str) -> float:
    best = -np.inf
    for t in np.concatenate([np.unique(scores), [np.inf]]):
        m = binary_metrics(labels, scores, t)
        value = m.acc if objective == "acc" else m.tp / m.n_fake - m.fp / m.n_real
        best = max(best, value)
    return best


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("rule", ["acc", "youden"])
def test_calibrated_threshold_is_optimal(seed: int, rule: str) -> None:
    labels, scores = random_scores(seed, n=150)
    scores = np.round(scores, 2)  # force ties
    threshold = calibrate_threshold(labels, scores, rule=rule)  # type: ignore[arg-type]
    m = binary_metrics(labels, scores, threshold)
    achieved = m.acc if rule == "acc" else m.tp / m.n_fake - m.fp / m.n_real
    assert achieved == pytest.approx(brute_force_best(labels, scores, rule))
    assert threshold not in set(scores.tolist()) or threshold == scores.min()


def test_calibrate_eer_matches_eer_threshold() -> None:
    labels, scores = random_scores(3)
    assert calibrate_threshold(labels, scores) == binary_metrics(labels, scores).eer_threshold


def test_calibrate_edge_cases() -> None:
    # Every fake below every real: the best accuracy predicts nothing fake (threshold above all).
    t = calibrate_threshold([0, 0, 1], [0.9, 0.8, 0.1], rule="acc")
    assert t > 0.9
    # Every sample fake is best: threshold at the lowest score.
    assert calibrate_threshold([0, 1, 1, 1, 1], [0.5, 0.1, 0.2, 0.3, 0.9], rule="acc") == 0.1
    # Equal accuracy at several cuts: the highest threshold wins.
    assert calibrate_threshold([0, 1, 1, 1], [0.6, 0.2, 0.7, 0.8], rule="acc") == pytest.approx(0.65)
    with pytest.raises(ValueError, match="both real and fake"):
        calibrate_threshold([1, 1], [0.2, 0.3])
    with pytest.raises(ValueError, match="unknown threshold rule"):
        calibrate_threshold([0, 1], [0.2, 0.3], rule="f1")  # type: ignore[arg-type]


# ---- video aggregation ---------------------------------------------------------------------------


def test_video_mean_and_order() -> None:
    ids = ["ffpp/Deepfakes/000_003", "ffpp/real/000", "ffpp/Deepfakes/000_003", "ffpp/FaceSwap/000_003"]
    v = video_scores(ids, [1, 0, 1, 1], [0.9, 0.3, 0.5, 0.2])
    assert v.ids.tolist() == ["ffpp/Deepfakes/000_003", "ffpp/FaceSwap/000_003", "ffpp/real/000"]
    assert v.labels.tolist() == [1, 1, 0]
    assert v.scores.tolist() == pytest.approx([0.7, 0.2, 0.3])


def test_video_confident() -> None:
    ids = ["a"] * 5 + ["b"] * 2
    scores = [0.9, 0.45, 0.5, 0.2, 0.6, 0.52, 0.1]
    v = video_scores(ids, [1] * 5 + [0] * 2, scores, how="confident", fraction=0.4)
    # a: |p-0.5| = .4 .05 0 .3 .1 → keep ceil(0.4·5) = 2 frames: 0.9 and 0.2. b: keep 1: 0.1.
    assert v.scores.tolist() == pytest.approx([0.55, 0.1])
    full = video_scores(ids, [1] * 5 + [0] * 2, scores, how="confident", fraction=1.0)
    assert full.scores.tolist() == pytest.approx(video_scores(ids, [1] * 5 + [0] * 2, scores).scores.tolist())


def test_video_mixed_labels_names_the_video() -> None:
    with pytest.raises(DatasetLayoutError, match="'000_003'"):
        video_scores(["000_003", "000_003", "x"], [0, 1, 1], [0.1, 0.2, 0.3])


def test_video_bad_arguments() -> None:
    with pytest.raises(ValueError, match="unknown aggregation"):
        video_scores(["a"], [0], [0.1], how="max")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="fraction"):
        video_scores(["a"], [0], [0.1], how="confident", fraction=0)
    with pytest.raises(ValueError, match="one id per score"):
        video_scores(["a", "b"], [0], [0.1])


# ---- groups and multi-class ------------------------------------------------------------------------


def test_per_group_uses_all_reals() -> None:
    labels, scores = random_scores(5, n=300)
    rng = np.random.default_rng(0)
    groups = np.where(labels == 0, "real", rng.choice(["Deepfakes", "Face2Face", "FaceSwap"], len(labels)))
    out = per_group_metrics(groups, labels, scores)
    assert list(out) == ["Deepfakes", "Face2Face", "FaceSwap"]
    for name, m in out.items():
        mask = (labels == 0) | (groups == name)
        assert m.n_real == int((labels == 0).sum())
        assert m.auc == pytest.approx(skm.roc_auc_score(labels[mask], scores[mask]))
    own = per_group_metrics(groups, labels, scores, reals="group")
    assert list(own) == ["Deepfakes", "Face2Face", "FaceSwap", "real"]
    assert own["Deepfakes"].n_real == 0 and math.isnan(own["Deepfakes"].auc)


def test_multiclass_against_scikit_learn() -> None:
    rng = np.random.default_rng(1)
    n, k = 300, 5
    labels = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), labels] += 1.0
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    names = ["real", "Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures"]
    m = multiclass_metrics(labels, probs, names)
    predicted = probs.argmax(axis=1)
    assert m.accuracy == pytest.approx(skm.accuracy_score(labels, predicted))
    assert m.macro_f1 == pytest.approx(skm.f1_score(labels, predicted, average="macro"))
    assert [list(r) for r in m.confusion] == skm.confusion_matrix(labels, predicted).tolist()
    assert m.auc_ovr_macro == pytest.approx(skm.roc_auc_score(labels, probs, multi_class="ovr"))
    recalls = skm.recall_score(labels, predicted, average=None)
    assert list(m.per_class_recall.values()) == pytest.approx(recalls.tolist())
    assert m.note == ""


def test_multiclass_missing_class() -> None:
    m = multiclass_metrics([0, 0, 1], [[0.9, 0.1, 0], [0.4, 0.6, 0], [0.2, 0.8, 0]], ["real", "A", "B"])
    assert math.isnan(m.per_class_recall["B"]) and "B" in m.note
    assert m.auc_ovr_macro == pytest.approx(1.0)
    single = multiclass_metrics([1, 1], [[0.1, 0.9], [0.6, 0.4]], ["real", "A"])
    assert math.isnan(single.auc_ovr_macro)
    with pytest.raises(ValueError):
        multiclass_metrics([0, 3], [[1, 0], [0, 1]], ["real", "A"])


# ---- streaming accumulator -----------------------------------------------------------------------


def make_frames(seed: int, videos: int = 40, per_video: int = 6) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    video_labels = rng.integers(0, 2, videos)
    methods = np.where(video_labels == 0, "real", rng.choice(["Deepfakes", "FaceSwap"], videos))
    ids = np.repeat([f"{m}/{i:03d}" for i, m in enumerate(methods)], per_video)
    labels = np.repeat(video_labels, per_video)
    scores = 1 / (1 + np.exp(-(rng.normal(size=len(ids)) + (2 * labels - 1))))
    order = rng.permutation(len(ids))
    return {
        "ids": ids[order],
        "labels": labels[order],
        "scores": scores[order],
        "frames": np.tile(np.arange(per_video), videos)[order],
        "methods": np.repeat(methods, per_video)[order],
    }


def fill(acc: ScoreAccumulator, data: dict[str, np.ndarray], start: int, stop: int, batch: int) -> None:
    for i in range(start, stop, batch):
        j = min(i + batch, stop)
        acc.update(
            torch.from_numpy(data["scores"][i:j]),
            torch.from_numpy(data["labels"][i:j]),
            data["ids"][i:j].tolist(),
            frame_indices=data["frames"][i:j],
            methods=data["methods"][i:j].tolist(),
        )


def test_accumulator_equals_one_shot() -> None:
    data = make_frames(0)
    acc = ScoreAccumulator(capacity=4)  # forces many reallocations
    fill(acc, data, 0, len(data["ids"]), batch=7)
    assert len(acc) == len(data["ids"])
    assert acc.frame_metrics(0.4) == binary_metrics(data["labels"], data["scores"], 0.4)
    one_shot = video_scores(data["ids"], data["labels"], data["scores"])
    streamed = acc.video_scores()
    assert streamed.ids.tolist() == one_shot.ids.tolist()
    assert np.array_equal(streamed.scores, one_shot.scores)
    assert acc.video_metrics() == binary_metrics(one_shot.labels, one_shot.scores)
    assert acc.method_metrics() == per_group_metrics(data["methods"], data["labels"], data["scores"])
    first = np.unique(data["ids"], return_index=True)[1]
    assert acc.method_metrics(level="video") == per_group_metrics(
        data["methods"][first], one_shot.labels, one_shot.scores
    )
    frames = acc.frames()
    assert frames.video_ids.tolist() == data["ids"].tolist()
    assert frames.frame_indices.tolist() == data["frames"].tolist()
    assert frames.methods.tolist() == data["methods"].tolist()


def test_accumulator_half_precision_and_defaults() -> None:
    acc = ScoreAccumulator()
    acc.update(torch.tensor([0.25, 0.75], dtype=torch.bfloat16), torch.tensor([0, 1]), ["a", "b"])
    frames = acc.frames()
    assert frames.scores.tolist() == [0.25, 0.75]
    assert frames.frame_indices.tolist() == [-1, -1] and frames.methods.tolist() == ["", ""]
    with pytest.raises(ValueError, match="batch lengths"):
        acc.update([0.1], [0, 1], ["a"])
    with pytest.raises(ValueError, match="probs"):
        acc.update([0.1], [0], ["c"], probs=[[0.9, 0.1]], class_labels=[0])


def test_accumulator_multiclass() -> None:
    acc = ScoreAccumulator()
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.3, 0.5]])
    acc.update(1 - probs[:2, 0], [0, 1], ["r", "f1"], probs=probs[:2], class_labels=[0, 1])
    acc.update(1 - probs[2:, 0], [1], ["f2"], probs=probs[2:], class_labels=[2])
    names = ["real", "A", "B"]
    assert acc.multiclass_metrics(names) == multiclass_metrics([0, 1, 2], probs, names)


def test_merge_drops_sampler_padding() -> None:
    data = make_frames(1, videos=10, per_video=3)
    ranks = [ScoreAccumulator(), ScoreAccumulator()]
    fill(ranks[0], data, 0, 15, batch=4)
    fill(ranks[1], data, 15, 30, batch=4)
    fill(ranks[1], data, 0, 2, batch=2)  # DistributedSampler pads with the first samples
    merged = ScoreAccumulator()
    merged._merge([r._payload() for r in ranks], drop_duplicates=True)
    assert len(merged) == 30
    assert merged.frame_metrics() == binary_metrics(data["labels"], data["scores"])
    assert merged.frames().video_ids.tolist() == data["ids"].tolist()


def test_gather_without_process_group_is_a_no_op() -> None:
    acc = ScoreAccumulator()
    acc.update([0.2], [0], ["a"])
    acc.gather()
    assert len(acc) == 1


def _gather_worker(rank: int, world: int, folder: str) -> None:
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{folder}/rendezvous", rank=rank, world_size=world)
    try:
        data = make_frames(2)
        n = len(data["ids"])
        bounds = [0, n // 3, n]  # unequal shares
        acc = ScoreAccumulator()
        fill(acc, data, bounds[rank], bounds[rank + 1], batch=5)
        acc.gather()
        result = {
            "n": len(acc),
            "frame": acc.frame_metrics().to_dict(),
            "video": acc.video_metrics().to_dict(),
        }
        Path(folder, f"rank{rank}.json").write_text(json.dumps(result))
    finally:
        dist.destroy_process_group()


def test_gather_across_two_processes(tmp_path: Path) -> None:
    import torch.multiprocessing as mp

    mp.spawn(_gather_worker, args=(2, str(tmp_path)), nprocs=2, join=True)
    data = make_frames(2)
    one_shot = video_scores(data["ids"], data["labels"], data["scores"])
    expected = {
        "n": len(data["ids"]),
        "frame": binary_metrics(data["labels"], data["scores"]).to_dict(),
        "video": binary_metrics(one_shot.labels, one_shot.scores).to_dict(),
    }
    for rank in range(2):
        got = json.loads((tmp_path / f"rank{rank}.json").read_text())
        assert got == json.loads(json.dumps(expected))
