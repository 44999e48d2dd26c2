"""Detection metrics: pure functions over numpy arrays, and a streaming accumulator.

Conventions used throughout:

- ``scores`` are fake probabilities in ``[0, 1]`` (for a K-class model, ``1 − p(real)``);
  ``labels`` are 0 (real) or 1 (fake).
- A sample is predicted fake when ``score >= threshold``.
- Metrics that need both classes (AUC, AP, EER, balanced accuracy) are ``nan`` when a class is
  missing, and the record's ``note`` says why; nothing raises for a one-class set.
- The video-level score is the mean of the video's frame probabilities (``how="mean"``), grouped by
  the ``video_id`` of the index, never by folder name (fakes of different methods share names).
- A frame with several faces counts each face crop as a row, unless the rows are first reduced to
  one per frame by :func:`max_over_faces` (its score the highest of its faces, as Self-Blended
  Images evaluates: a frame is as fake as its most suspicious face).

AUC and AP come from scikit-learn; the EER is read off the same ROC curve, linearly interpolated
between the two ROC points where the false-negative rate crosses the false-positive rate.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from fakescan.errors import DatasetLayoutError

if TYPE_CHECKING:
    from fakescan.scoring import Predictions

__all__ = [
    "AGGREGATIONS",
    "FACE_AGGREGATIONS",
    "THRESHOLD_RULES",
    "BinaryMetrics",
    "FrameScores",
    "MulticlassMetrics",
    "ScoreAccumulator",
    "VideoScores",
    "binary_metrics",
    "calibrate_threshold",
    "eer",
    "finite_metrics",
    "max_over_faces",
    "multiclass_metrics",
    "per_group_metrics",
    "video_scores",
]

Aggregation = Literal["mean", "confident"]
AGGREGATIONS: tuple[str, ...] = ("mean", "confident")
FaceAggregation = Literal["all", "max"]
FACE_AGGREGATIONS: tuple[str, ...] = ("all", "max")
ThresholdRule = Literal["eer", "youden", "acc"]
THRESHOLD_RULES: tuple[str, ...] = ("eer", "youden", "acc")

_ONE_CLASS_NOTE = "only {present} samples: AUC, AP, EER and balanced accuracy need both classes"


@dataclass(frozen=True)
class BinaryMetrics:
    """Real-vs-fake metrics of one set of scores.

    Attributes:
        n, n_real, n_fake: sample counts.
        threshold: the decision threshold the threshold-dependent values use (fake iff ``score >= t``).
        acc: accuracy at ``threshold``.
        balanced_acc: mean of the true-negative and true-positive rates at ``threshold``.
        auc: area under the ROC curve.
        ap: average precision (area under the precision–recall curve, fake = positive).
        eer: equal error rate, where the false-positive rate equals the false-negative rate.
        eer_threshold: the score threshold at the EER point.
        tn, fp, fn, tp: the confusion matrix at ``threshold`` (positive = fake).
        note: why some values are ``nan`` (empty when all are defined).
    """

    n: int
    n_real: int
    n_fake: int
    threshold: float
    acc: float
    balanced_acc: float
    auc: float
    ap: float
    eer: float
    eer_threshold: float
    tn: int
    fp: int
    fn: int
    tp: int
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (``nan`` stays ``nan``; the report writer maps it to null)."""
        return asdict(self)


@dataclass(frozen=True)
class MulticlassMetrics:
    """Metrics of a K-class classifier (class 0 = real, others = manipulation methods).

    Attributes:
        n: sample count.
        class_names: the K class names, in class-index order.
        accuracy: top-1 accuracy.
        macro_f1: F1 averaged over the classes that occur in the labels or the predictions.
        per_class_recall: recall of each class (``nan`` for a class with no samples).
        confusion: ``K×K`` counts, rows = true class, columns = predicted class.
        auc_ovr_macro: mean one-vs-rest ROC AUC over the classes that have samples, when at least
            two classes have samples (else ``nan``).
        note: why some values are ``nan``.
    """

    n: int
    class_names: tuple[str, ...]
    accuracy: float
    macro_f1: float
    per_class_recall: dict[str, float]
    confusion: tuple[tuple[int, ...], ...]
    auc_ovr_macro: float
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (the confusion matrix as nested lists)."""
        out = asdict(self)
        out["class_names"] = list(self.class_names)
        out["confusion"] = [list(row) for row in self.confusion]
        return out


class VideoScores(NamedTuple):
    """Per-video scores, sorted by video id: ``ids`` (str), ``labels`` (0/1), ``scores`` (float)."""

    ids: np.ndarray
    labels: np.ndarray
    scores: np.ndarray


@dataclass(frozen=True)
class FrameScores:
    """Per-frame predictions as parallel arrays of length N.

    Attributes:
        video_ids: str array.
        frame_indices: int array (``-1`` where unknown).
        labels: 0/1 int array.
        scores: float array of fake probabilities.
        methods: str array (``""`` where unknown).
    """

    video_ids: np.ndarray
    frame_indices: np.ndarray
    labels: np.ndarray
    scores: np.ndarray
    methods: np.ndarray

    def __len__(self) -> int:
        return len(self.scores)

    @classmethod
    def of_predictions(cls, predictions: Predictions, methods: Sequence[str]) -> FrameScores:
        """The rows of a :func:`fakescan.scoring.predict_loader` pass (what the score CSVs hold),
        with each row's method."""
        return cls(
            video_ids=np.asarray(predictions.video_ids, dtype=str),
            frame_indices=predictions.frame_indices,
            labels=predictions.labels,
            scores=predictions.scores.astype(np.float64),
            methods=np.asarray(methods, dtype=str),
        )


# --------------------------------------------------------------------------------------------------
# Input checks


def _check_binary(labels: ArrayLike, scores: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels)
    s = np.asarray(scores, dtype=np.float64)
    if y.ndim != 1 or s.ndim != 1 or len(y) != len(s):
        raise ValueError(f"labels and scores must be 1-D and of equal length, got {y.shape} and {s.shape}")
    if y.size and not np.isin(y, (0, 1)).all():
        raise ValueError(f"labels must be 0 (real) or 1 (fake), got values {np.unique(y)[:5].tolist()}")
    if not np.isfinite(s).all():
        raise ValueError(f"scores must be finite, got {int((~np.isfinite(s)).sum())} nan/inf values")
    return y.astype(np.int64), s


def _roc(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.metrics import roc_curve

    # Keep every point: dropping collinear ones would not change the EER, but it would move the
    # interpolated EER threshold.
    fpr, tpr, thresholds = roc_curve(y, s, drop_intermediate=False)
    return fpr, tpr, thresholds


def _eer_from_roc(fpr: np.ndarray, tpr: np.ndarray, thresholds: np.ndarray) -> tuple[float, float]:
    fnr = 1.0 - tpr
    gap = fnr - fpr  # 1 at the first ROC point, −1 at the last, never increasing
    i = int(np.argmax(gap <= 0))
    if i == 0:
        return float(fpr[0]), float(thresholds[0])
    t = gap[i - 1] / (gap[i - 1] - gap[i])
    rate = fpr[i - 1] + t * (fpr[i] - fpr[i - 1])
    low, high = thresholds[i], thresholds[i - 1]
    threshold = low if not np.isfinite(high) else high + t * (low - high)
    return float(rate), float(threshold)


def eer(labels: ArrayLike, scores: ArrayLike) -> tuple[float, float]:
    """Equal error rate and its threshold: the ROC point where FPR = FNR, linearly interpolated.

    Returns ``(nan, nan)`` unless both classes are present.

    >>> eer([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])  # perfectly separable
    (0.0, 0.8)
    >>> eer([0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1])[0]  # every decision wrong
    1.0
    >>> rate, threshold = eer([0, 1, 1, 1, 1], [0.5, 0.9, 0.8, 0.7, 0.1])  # FNR = 1/4 as FPR goes 0 → 1
    >>> round(rate, 9), round(threshold, 9)
    (0.25, 0.65)
    """
    y, s = _check_binary(labels, scores)
    if len(np.unique(y)) < 2:
        return math.nan, math.nan
    return _eer_from_roc(*_roc(y, s))


def binary_metrics(labels: ArrayLike, scores: ArrayLike, threshold: float = 0.5) -> BinaryMetrics:
    """Accuracy, balanced accuracy, AUC, AP, EER and the confusion matrix of fake probabilities.

    Args:
        labels: 0 (real) / 1 (fake), length N.
        scores: fake probabilities, length N, finite.
        threshold: predict fake when ``score >= threshold``.

    Raises:
        ValueError: mismatched lengths, labels other than 0/1, or nan/inf scores.

    >>> m = binary_metrics([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    >>> m.auc, m.acc, m.eer, (m.tn, m.fp, m.fn, m.tp)
    (0.75, 0.75, 0.5, (2, 0, 1, 1))
    >>> only_fakes = binary_metrics([1, 1], [0.9, 0.2])
    >>> only_fakes.acc, math.isnan(only_fakes.auc), only_fakes.note
    (0.5, True, 'only fake samples: AUC, AP, EER and balanced accuracy need both classes')
    """
    from sklearn.metrics import average_precision_score, roc_auc_score

    y, s = _check_binary(labels, scores)
    n, n_fake = len(y), int(y.sum())
    n_real = n - n_fake
    predicted = s >= threshold
    tp = int((predicted & (y == 1)).sum())
    fp = int((predicted & (y == 0)).sum())
    fn, tn = n_fake - tp, n_real - fp
    acc = (tp + tn) / n if n else math.nan
    if n_real and n_fake:
        fpr, tpr, thresholds = _roc(y, s)
        eer_rate, eer_threshold = _eer_from_roc(fpr, tpr, thresholds)
        return BinaryMetrics(
            n=n,
            n_real=n_real,
            n_fake=n_fake,
            threshold=float(threshold),
            acc=acc,
            balanced_acc=(tp / n_fake + tn / n_real) / 2,
            auc=float(roc_auc_score(y, s)),
            ap=float(average_precision_score(y, s)),
            eer=eer_rate,
            eer_threshold=eer_threshold,
            tn=tn,
            fp=fp,
            fn=fn,
            tp=tp,
        )
    note = "no samples" if n == 0 else _ONE_CLASS_NOTE.format(present="real" if n_real else "fake")
    nan = math.nan
    return BinaryMetrics(
        n, n_real, n_fake, float(threshold), acc, nan, nan, nan, nan, nan, tn, fp, fn, tp, note
    )


def calibrate_threshold(labels: ArrayLike, scores: ArrayLike, rule: ThresholdRule = "eer") -> float:
    """The decision threshold chosen on validation scores (predict fake when ``score >= t``).

    Rules:
        ``"eer"``: the interpolated threshold at the equal-error point of the ROC.
        ``"youden"``: maximises Youden's J = TPR − FPR.
        ``"acc"``: maximises accuracy.

    For ``"youden"`` and ``"acc"`` the returned value is the midpoint between the lowest score
    predicted fake and the highest score predicted real, so that it sits between the two groups
    rather than on a validation sample; ties go to the highest threshold.

    Raises:
        ValueError: one of the classes is missing, or an unknown rule.

    >>> calibrate_threshold([0, 0, 1, 1], [0.1, 0.3, 0.7, 0.9], rule="acc")
    0.5
    >>> calibrate_threshold([0, 0, 1, 1], [0.1, 0.3, 0.7, 0.9], rule="youden")
    0.5
    >>> round(calibrate_threshold([0, 1, 1, 1, 1], [0.5, 0.9, 0.8, 0.7, 0.1], rule="eer"), 9)
    0.65
    """
    if rule not in THRESHOLD_RULES:
        raise ValueError(f"unknown threshold rule {rule!r}; choose one of {', '.join(THRESHOLD_RULES)}")
    y, s = _check_binary(labels, scores)
    if len(np.unique(y)) < 2:
        raise ValueError("calibrating a threshold needs both real and fake validation samples")
    if rule == "eer":
        return eer(y, s)[1]
    # Candidate cut k: the k highest distinct scores are predicted fake (k = 0 … number of distinct).
    distinct, inverse = np.unique(s, return_inverse=True)
    distinct, order = distinct[::-1], len(distinct) - 1 - inverse  # descending
    fakes_at = np.bincount(order, weights=y, minlength=len(distinct))
    reals_at = np.bincount(order, weights=1 - y, minlength=len(distinct))
    tp = np.concatenate([[0.0], np.cumsum(fakes_at)])
    fp = np.concatenate([[0.0], np.cumsum(reals_at)])
    n_fake, n_real = tp[-1], fp[-1]
    if rule == "youden":
        objective = tp / n_fake - fp / n_real
    else:
        objective = (tp + (n_real - fp)) / (n_fake + n_real)
    k = int(np.argmax(objective))
    if k == 0:
        return float(np.nextafter(distinct[0], np.inf))
    if k == len(distinct):
        return float(distinct[-1])
    return float((distinct[k - 1] + distinct[k]) / 2)


# --------------------------------------------------------------------------------------------------
# Video aggregation and groups


def max_over_faces(frames: FrameScores) -> FrameScores:
    """One row per frame (``video_id``, ``frame_index``), its score the maximum over the frame's
    faces (Shiohara & Yamasaki, CVPR 2022, Sec. 4.1: the frame score is the highest of its faces;
    the video score is then the mean of its frames). Rows come out sorted by video and frame; a
    frame's label is 1 if any of its faces is fake, its method that of its first row.

    >>> rows = FrameScores(np.array(["v", "v", "v", "w"]), np.array([3, 3, 4, 3]), np.array([1, 1, 1, 0]),
    ...                    np.array([0.2, 0.9, 0.4, 0.1]), np.array(["M", "M", "M", "real"]))
    >>> frames = max_over_faces(rows)
    >>> frames.video_ids.tolist(), frames.frame_indices.tolist(), frames.scores.tolist()
    (['v', 'v', 'w'], [3, 4, 3], [0.9, 0.4, 0.1])
    """
    ids = np.asarray(frames.video_ids, dtype=str)
    index = np.asarray(frames.frame_indices, dtype=np.int64)
    keys, first, group = np.unique(
        np.rec.fromarrays([ids, index], names="video,frame"), return_index=True, return_inverse=True
    )
    group = group.reshape(-1)
    scores = np.full(len(keys), -np.inf)
    np.maximum.at(scores, group, np.asarray(frames.scores, dtype=np.float64))
    labels = np.zeros(len(keys), dtype=np.int64)
    np.maximum.at(labels, group, np.asarray(frames.labels, dtype=np.int64))
    return FrameScores(
        video_ids=keys["video"].astype(str),
        frame_indices=keys["frame"].astype(np.int64),
        labels=labels,
        scores=scores,
        methods=np.asarray(frames.methods, dtype=str)[first],
    )


def video_scores(
    video_ids: Sequence[str] | np.ndarray,
    labels: ArrayLike,
    scores: ArrayLike,
    how: Aggregation = "mean",
    fraction: float = 0.5,
) -> VideoScores:
    """Aggregate frame scores into one score per video.

    Args:
        video_ids: the index's ``video_id`` of each frame (never a folder name alone).
        labels, scores: per-frame label and fake probability.
        how: ``"mean"`` — the mean of the video's frame probabilities (the usual video score);
            ``"confident"`` — the mean over the video's most confident frames, those whose
            ``|p − 0.5|`` is among the top ``fraction`` of its frames (at least one frame; ties
            broken by frame order).
        fraction: share of frames ``"confident"`` keeps, in ``(0, 1]``.

    Returns:
        :class:`VideoScores` sorted by video id.

    Raises:
        DatasetLayoutError: a video whose frames carry both labels (names the video).
        ValueError: mismatched lengths, bad labels or scores, an unknown ``how`` or ``fraction``.

    >>> v = video_scores(["b", "a", "b", "a"], [1, 0, 1, 0], [0.9, 0.2, 0.7, 0.4])
    >>> v.ids.tolist(), v.labels.tolist(), v.scores.round(3).tolist()
    (['a', 'b'], [0, 1], [0.3, 0.8])
    >>> video_scores(["a"] * 4, [1] * 4, [0.9, 0.55, 0.6, 0.1], how="confident").scores.tolist()
    [0.5]
    """
    if how not in AGGREGATIONS:
        raise ValueError(f"unknown aggregation {how!r}; choose one of {', '.join(AGGREGATIONS)}")
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    y, s = _check_binary(labels, scores)
    ids = np.asarray(video_ids, dtype=str)
    if ids.shape != y.shape:
        raise ValueError(f"video_ids must have one id per score: got {ids.shape} for {y.shape} scores")
    unique, group = np.unique(ids, return_inverse=True)
    count = np.bincount(group, minlength=len(unique))
    fakes = np.bincount(group, weights=y, minlength=len(unique))
    mixed = np.flatnonzero((fakes > 0) & (fakes < count))
    if len(mixed):
        name = unique[mixed[0]]
        raise DatasetLayoutError(
            f"video {name!r} has frames labelled both real and fake ({len(mixed)} such videos); "
            "video ids must be unique across methods and data sets (use the index's video_id)"
        )
    video_labels = (fakes > 0).astype(np.int64)
    if how == "mean":
        return VideoScores(unique, video_labels, np.bincount(group, weights=s, minlength=len(unique)) / count)
    keep_per_video = np.maximum(1, np.ceil(fraction * count - 1e-9)).astype(np.int64)
    order = np.lexsort((np.arange(len(s)), -np.abs(s - 0.5), group))
    starts = np.concatenate([[0], np.cumsum(count)[:-1]])
    rank = np.arange(len(s)) - starts[group[order]]
    chosen = order[rank < keep_per_video[group[order]]]
    sums = np.bincount(group[chosen], weights=s[chosen], minlength=len(unique))
    return VideoScores(unique, video_labels, sums / keep_per_video)


def per_group_metrics(
    groups: Sequence[str] | np.ndarray,
    labels: ArrayLike,
    scores: ArrayLike,
    threshold: float = 0.5,
    reals: Literal["all", "group"] = "all",
) -> dict[str, BinaryMetrics]:
    """Metrics per group (e.g. per manipulation method), sorted by group name.

    Args:
        groups: one group name per sample (e.g. the index's ``method``).
        labels, scores: per-sample label and fake probability.
        threshold: as in :func:`binary_metrics`.
        reals: ``"all"`` — the FaceForensics++ convention: each group that has fakes is scored as
            *its fakes against all real samples* (the reals' own group names, e.g. ``"real"``, get no
            entry), so every method's AUC uses the same reals. ``"group"`` — each group is scored on
            its own samples alone, reals and fakes (e.g. a per-data-set breakdown).

    >>> g = ["real", "real", "A", "A", "B"]
    >>> m = per_group_metrics(g, [0, 0, 1, 1, 1], [0.1, 0.6, 0.9, 0.8, 0.3])
    >>> {name: (x.n, x.auc) for name, x in m.items()}
    {'A': (4, 1.0), 'B': (3, 0.5)}
    """
    if reals not in ("all", "group"):
        raise ValueError(f"reals must be 'all' or 'group', got {reals!r}")
    y, s = _check_binary(labels, scores)
    names = np.asarray(groups, dtype=str)
    if names.shape != y.shape:
        raise ValueError(f"groups must have one name per score: got {names.shape} for {y.shape} scores")
    out: dict[str, BinaryMetrics] = {}
    if reals == "group":
        for name in np.unique(names):
            mask = names == name
            out[str(name)] = binary_metrics(y[mask], s[mask], threshold)
        return out
    is_real = y == 0
    for name in np.unique(names[~is_real]):
        mask = is_real | (names == name)
        out[str(name)] = binary_metrics(y[mask], s[mask], threshold)
    return out


# --------------------------------------------------------------------------------------------------
# Multi-class


def multiclass_metrics(
    class_labels: ArrayLike, probs: ArrayLike, class_names: Sequence[str]
) -> MulticlassMetrics:
    """Accuracy, macro-F1, per-class recall, confusion matrix and one-vs-rest macro AUC.

    Args:
        class_labels: true class index per sample, in ``[0, K)``.
        probs: ``N×K`` class probabilities (or any scores; the prediction is the arg-max).
        class_names: the K class names.

    >>> m = multiclass_metrics([0, 1, 2, 2], [[.8, .1, .1], [.2, .7, .1], [.1, .2, .7], [.5, .1, .4]],
    ...                        ["real", "A", "B"])
    >>> m.accuracy, m.per_class_recall, m.confusion
    (0.75, {'real': 1.0, 'A': 1.0, 'B': 0.5}, ((1, 0, 0), (0, 1, 0), (1, 0, 1)))
    """
    from sklearn.metrics import f1_score, roc_auc_score

    y = np.asarray(class_labels)
    p = np.asarray(probs, dtype=np.float64)
    k = len(class_names)
    if p.ndim != 2 or p.shape[1] != k or y.shape != (p.shape[0],):
        raise ValueError(f"need labels (N,) and probs (N, {k}) for {k} classes, got {y.shape} and {p.shape}")
    if y.size and (y.min() < 0 or y.max() >= k or not np.issubdtype(y.dtype, np.integer)):
        raise ValueError(f"class labels must be integers in [0, {k}), got values {np.unique(y)[:5].tolist()}")
    if not np.isfinite(p).all():
        raise ValueError("probs must be finite")
    n = len(y)
    predicted = p.argmax(axis=1) if n else np.zeros(0, dtype=np.int64)
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (y, predicted), 1)
    support = confusion.sum(axis=1)
    recall = {
        str(name): float(confusion[i, i] / support[i]) if support[i] else math.nan
        for i, name in enumerate(class_names)
    }
    notes = []
    present = np.flatnonzero(support)
    aucs = [float(roc_auc_score(y == c, p[:, c])) for c in present] if len(present) >= 2 else []
    if len(present) < k:
        missing = [class_names[i] for i in range(k) if not support[i]]
        notes.append(f"no samples of {', '.join(missing)}: their recall is nan and the AUC skips them")
    if len(present) < 2:
        notes.append("one-vs-rest AUC needs samples of at least two classes")
    return MulticlassMetrics(
        n=n,
        class_names=tuple(str(c) for c in class_names),
        accuracy=float((predicted == y).mean()) if n else math.nan,
        macro_f1=float(f1_score(y, predicted, average="macro", zero_division=0)) if n else math.nan,
        per_class_recall=recall,
        confusion=tuple(tuple(int(v) for v in row) for row in confusion),
        auc_ovr_macro=float(np.mean(aucs)) if aucs else math.nan,
        note="; ".join(notes),
    )


# --------------------------------------------------------------------------------------------------
# Streaming accumulation


def _to_numpy(values: Any, dtype: Any = None) -> np.ndarray:
    if hasattr(values, "detach"):  # a torch tensor; bfloat16/half have no numpy counterpart
        values = values.detach()
        if values.is_floating_point():
            values = values.double()
        values = values.cpu().numpy()
    return np.asarray(values, dtype=dtype)


class _Vocabulary:
    """Strings ↔ dense int codes, so per-sample storage is one integer, not one Python object."""

    def __init__(self) -> None:
        self.codes: dict[str, int] = {}
        self.names: list[str] = []

    def encode(self, values: Iterable[str]) -> np.ndarray:
        out = []
        for value in values:
            code = self.codes.get(value)
            if code is None:
                code = self.codes[value] = len(self.names)
                self.names.append(value)
            out.append(code)
        return np.asarray(out, dtype=np.int64)

    def decode(self, codes: np.ndarray) -> np.ndarray:
        table = np.asarray(self.names, dtype=str) if self.names else np.zeros(0, dtype=str)
        return table[codes] if len(codes) else np.zeros(0, dtype=str)


class _Buffer:
    """A growable numpy array (amortised doubling)."""

    def __init__(self, dtype: Any, width: int | None = None, capacity: int = 1024) -> None:
        self.width = width
        shape = (capacity,) if width is None else (capacity, width)
        self.data = np.empty(shape, dtype=dtype)
        self.size = 0

    def append(self, values: np.ndarray) -> None:
        needed = self.size + len(values)
        if needed > len(self.data):
            grown = np.empty((max(needed, 2 * len(self.data)), *self.data.shape[1:]), dtype=self.data.dtype)
            grown[: self.size] = self.data[: self.size]
            self.data = grown
        self.data[self.size : needed] = values
        self.size = needed

    def view(self) -> np.ndarray:
        return self.data[: self.size]

    def replace(self, values: np.ndarray) -> None:
        self.data = np.array(values, dtype=self.data.dtype, copy=True)
        self.size = len(values)


class ScoreAccumulator:
    """Collects per-batch predictions into growable numpy buffers, then computes metrics.

    Per sample it keeps a float score, an int8 label, an int frame index and two int codes (video
    id and method); the id and method strings are kept once each. Optional ``N×K`` class
    probabilities and class labels are kept for multi-class models.

    In data-parallel evaluation call :meth:`gather` once after the last batch: every rank then holds
    the predictions of all ranks, so metrics are computed on the whole test set.

    >>> acc = ScoreAccumulator()
    >>> acc.update([0.9, 0.1], [1, 0], ["v1", "v2"], frame_indices=[0, 0])
    >>> acc.update([0.7], [1], ["v1"], frame_indices=[5])
    >>> len(acc), acc.frame_metrics().auc, acc.video_scores().scores.tolist()
    (3, 1.0, [0.8, 0.1])
    """

    def __init__(self, capacity: int = 1024) -> None:
        self._scores = _Buffer(np.float64, capacity=capacity)
        self._labels = _Buffer(np.int8, capacity=capacity)
        self._frames = _Buffer(np.int64, capacity=capacity)
        self._videos = _Buffer(np.int64, capacity=capacity)
        self._methods = _Buffer(np.int64, capacity=capacity)
        self._video_names = _Vocabulary()
        self._method_names = _Vocabulary()
        self._probs: _Buffer | None = None
        self._class_labels: _Buffer | None = None

    def __len__(self) -> int:
        return self._scores.size

    def update(
        self,
        scores: ArrayLike,
        labels: ArrayLike,
        video_ids: Sequence[str],
        frame_indices: ArrayLike | None = None,
        methods: Sequence[str] | None = None,
        probs: ArrayLike | None = None,
        class_labels: ArrayLike | None = None,
    ) -> None:
        """Append one batch (numpy arrays, lists or torch tensors on any device).

        Args:
            scores: fake probabilities, length B.
            labels: 0/1, length B.
            video_ids: the index's video id of each sample.
            frame_indices: frame index of each sample (``-1`` when omitted).
            methods: manipulation method of each sample (``""`` when omitted).
            probs, class_labels: ``B×K`` class probabilities and class indices of a K-class
                model; give both in every batch or in none.
        """
        s = _to_numpy(scores, np.float64).reshape(-1)
        y = _to_numpy(labels).reshape(-1)
        batch = len(s)
        if len(y) != batch or len(video_ids) != batch:
            raise ValueError(f"batch lengths differ: {batch} scores, {len(y)} labels, {len(video_ids)} ids")
        if batch and not np.isin(y, (0, 1)).all():
            raise ValueError(f"labels must be 0 (real) or 1 (fake), got {np.unique(y)[:5].tolist()}")
        frames = np.full(batch, -1) if frame_indices is None else _to_numpy(frame_indices).reshape(-1)
        if len(frames) != batch:
            raise ValueError(f"{len(frames)} frame indices for a batch of {batch}")
        if methods is not None and len(methods) != batch:
            raise ValueError(f"{len(methods)} methods for a batch of {batch}")
        if (probs is None) != (class_labels is None):
            raise ValueError("give probs and class_labels together")
        if probs is not None and class_labels is not None:
            p = _to_numpy(probs, np.float64)
            c = _to_numpy(class_labels).reshape(-1)
            if p.ndim != 2 or len(p) != batch or len(c) != batch:
                raise ValueError(f"probs must be {batch}×K and class_labels of length {batch}")
            if self._probs is None or self._class_labels is None:
                if len(self):
                    raise ValueError("probs were not given for the earlier batches")
                self._probs, self._class_labels = _Buffer(np.float64, width=p.shape[1]), _Buffer(np.int64)
            if p.shape[1] != self._probs.width:
                raise ValueError(f"probs have {p.shape[1]} columns, earlier batches {self._probs.width}")
            self._probs.append(p)
            self._class_labels.append(c)
        elif self._probs is not None:
            raise ValueError("probs were given for earlier batches but not for this one")
        self._scores.append(s)
        self._labels.append(y.astype(np.int8))
        self._frames.append(frames.astype(np.int64))
        self._videos.append(self._video_names.encode(str(v) for v in video_ids))
        self._methods.append(
            self._method_names.encode([""] * batch if methods is None else map(str, methods))
        )

    # ---- views ------------------------------------------------------------------------------------

    @property
    def scores(self) -> np.ndarray:
        return self._scores.view()

    @property
    def labels(self) -> np.ndarray:
        return self._labels.view().astype(np.int64)

    def frames(self) -> FrameScores:
        """All predictions as parallel arrays (ids and methods decoded to strings)."""
        return FrameScores(
            video_ids=self._video_names.decode(self._videos.view()),
            frame_indices=self._frames.view().copy(),
            labels=self.labels,
            scores=self.scores.copy(),
            methods=self._method_names.decode(self._methods.view()),
        )

    # ---- metrics ----------------------------------------------------------------------------------

    def frame_metrics(self, threshold: float = 0.5) -> BinaryMetrics:
        """Frame-level :func:`binary_metrics`."""
        return binary_metrics(self.labels, self.scores, threshold)

    def video_scores(self, how: Aggregation = "mean", fraction: float = 0.5) -> VideoScores:
        """Per-video scores (:func:`video_scores`)."""
        ids = self._video_names.decode(self._videos.view())
        return video_scores(ids, self.labels, self.scores, how, fraction)

    def video_metrics(
        self, threshold: float = 0.5, how: Aggregation = "mean", fraction: float = 0.5
    ) -> BinaryMetrics:
        """Video-level :func:`binary_metrics` of the aggregated scores."""
        videos = self.video_scores(how, fraction)
        return binary_metrics(videos.labels, videos.scores, threshold)

    def method_metrics(
        self,
        threshold: float = 0.5,
        reals: Literal["all", "group"] = "all",
        level: Literal["frame", "video"] = "frame",
        how: Aggregation = "mean",
    ) -> dict[str, BinaryMetrics]:
        """:func:`per_group_metrics` by method, of frames or of videos (aggregated with ``how``).

        A video's method is that of its first frame (all its frames share it when ids are unique).
        """
        if level == "frame":
            return per_group_metrics(self.frames().methods, self.labels, self.scores, threshold, reals)
        if level != "video":
            raise ValueError(f"level must be 'frame' or 'video', got {level!r}")
        videos = self.video_scores(how)
        ids = self._video_names.decode(self._videos.view())
        _, first = np.unique(ids, return_index=True)  # same sorted order as videos.ids
        methods = self._method_names.decode(self._methods.view()[first])
        return per_group_metrics(methods, videos.labels, videos.scores, threshold, reals)

    def multiclass_metrics(self, class_names: Sequence[str]) -> MulticlassMetrics:
        """:func:`multiclass_metrics` of the stored class probabilities."""
        if self._probs is None or self._class_labels is None:
            raise ValueError("no class probabilities were accumulated (pass probs= to update)")
        return multiclass_metrics(self._class_labels.view(), self._probs.view(), class_names)

    # ---- distributed ------------------------------------------------------------------------------

    def _payload(self) -> dict[str, Any]:
        return {
            "scores": self._scores.view(),
            "labels": self._labels.view(),
            "frames": self._frames.view(),
            "videos": self._videos.view(),
            "methods": self._methods.view(),
            "video_names": self._video_names.names,
            "method_names": self._method_names.names,
            "probs": None if self._probs is None else self._probs.view(),
            "class_labels": None if self._class_labels is None else self._class_labels.view(),
        }

    def gather(self, drop_duplicates: bool = True) -> None:
        """Merge the predictions of all ``torch.distributed`` ranks into every rank (in rank order).

        A no-op unless ``torch.distributed`` is initialised. Every rank must call it (it is a
        collective). With ``drop_duplicates``, rows whose ``(video id, frame index)`` repeat an
        earlier row are dropped: ``DistributedSampler`` pads the last ranks with copies of the first
        samples so that all ranks get equal batches. Rows without a frame index (``-1``) are kept.
        """
        try:
            import torch.distributed as dist
        except ImportError:  # pragma: no cover - torch is a dependency
            return
        if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
            return
        parts: list[Any] = [None] * dist.get_world_size()
        dist.all_gather_object(parts, self._payload())
        self._merge(parts, drop_duplicates)

    def _merge(self, parts: Sequence[Mapping[str, Any]], drop_duplicates: bool) -> None:
        videos, methods = _Vocabulary(), _Vocabulary()
        video_codes, method_codes = [], []
        for part in parts:
            video_codes.append(videos.encode(part["video_names"])[part["videos"]])
            method_codes.append(methods.encode(part["method_names"])[part["methods"]])
        columns = {
            "scores": np.concatenate([p["scores"] for p in parts]),
            "labels": np.concatenate([p["labels"] for p in parts]),
            "frames": np.concatenate([p["frames"] for p in parts]),
            "videos": np.concatenate(video_codes),
            "methods": np.concatenate(method_codes),
        }
        has_probs = [p["probs"] is not None for p in parts if len(p["scores"])]
        if any(has_probs) and not all(has_probs):
            raise ValueError("some ranks accumulated class probabilities and others did not")
        if any(has_probs):
            columns["probs"] = np.concatenate([p["probs"] for p in parts if p["probs"] is not None])
            columns["class_labels"] = np.concatenate(
                [p["class_labels"] for p in parts if p["class_labels"] is not None]
            )
        if drop_duplicates:
            keyed = columns["frames"] >= 0
            pairs = np.stack([columns["videos"], columns["frames"]], axis=1)
            _, first = np.unique(pairs[keyed], axis=0, return_index=True)
            keep = ~keyed
            keep[np.flatnonzero(keyed)[first]] = True
            columns = {name: values[keep] for name, values in columns.items()}
        self._scores.replace(columns["scores"])
        self._labels.replace(columns["labels"])
        self._frames.replace(columns["frames"])
        self._videos.replace(columns["videos"])
        self._methods.replace(columns["methods"])
        self._video_names, self._method_names = videos, methods
        if "probs" in columns:
            self._probs = _Buffer(np.float64, width=columns["probs"].shape[1])
            self._probs.replace(columns["probs"])
            self._class_labels = _Buffer(np.int64)
            self._class_labels.replace(columns["class_labels"])


def finite_metrics(values: Mapping[str, Any]) -> dict[str, float | None]:
    """The numbers of a metrics dict, JSON-ready: non-numbers (and booleans) dropped, NaN and
    infinities as ``None`` (a sidecar's ``val_metrics``).

    >>> finite_metrics({"auc": 0.5, "eer": float("nan"), "n": 3, "name": "x", "ok": True})
    {'auc': 0.5, 'eer': None, 'n': 3.0}
    """
    out: dict[str, float | None] = {}
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        out[key] = None if isinstance(value, float) and not math.isfinite(value) else float(value)
    return out
