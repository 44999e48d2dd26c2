"""Class labels, class counts and balancing over a video index: pure functions.

Binary labels are in the records (``label``: 0 real, 1 fake). Multi-class labels come from
``method``: class 0 is always ``"real"``, then the FaceForensics++ methods in the order of the
FF++ paper and benchmark (Deepfakes, Face2Face, FaceSwap, NeuralTextures, then FaceShifter, added
later), then any other method in alphabetical order. So the classic FF++ set has 5 classes, and a
class index never depends on the order in which videos were listed.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from typing import Literal

from fakescan.data.datasets.index import REAL, SPLITS, Split, VideoRecord
from fakescan.data.datasets.splits import allocate, seeded_order
from fakescan.errors import ConfigError

__all__ = ["METHOD_ORDER", "balance", "class_index", "class_names", "class_weights", "split_counts"]

METHOD_ORDER: tuple[str, ...] = ("Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures", "FaceShifter")
"""Methods whose class index is fixed (after ``"real"``); others follow alphabetically."""


def class_names(records: Iterable[VideoRecord]) -> tuple[str, ...]:
    """The class names of a multi-class task: ``"real"``, then the methods present, in a fixed order.

    >>> from fakescan.data.datasets.index import VideoRecord
    >>> def video(method):
    ...     return VideoRecord(method, method + ".mp4", int(method != "real"), method, "train", "ffpp")
    >>> class_names(video(m) for m in ["NeuralTextures", "real", "Face2Face", "Deepfakes", "FaceSwap"])
    ('real', 'Deepfakes', 'Face2Face', 'FaceSwap', 'NeuralTextures')
    >>> class_names(video(m) for m in ["method_B", "method_A"])
    ('real', 'method_A', 'method_B')
    """
    methods = {record.method for record in records} - {REAL}
    known = [method for method in METHOD_ORDER if method in methods]
    return (REAL, *known, *sorted(methods - set(known)))


def class_index(records: Sequence[VideoRecord], names: Sequence[str] | None = None) -> list[int]:
    """The multi-class label of each record: the index of its method in ``names``.

    ``names`` defaults to :func:`class_names` of ``records``; pass the training set's names when
    labelling another split, so that the indices agree.

    Raises:
        ConfigError: a record's method is not among ``names``.
    """
    names = class_names(records) if names is None else tuple(names)
    position = {name: i for i, name in enumerate(names)}
    labels = []
    for record in records:
        if record.method not in position:
            raise ConfigError(
                f"{record.video_id}: method {record.method!r} is not one of the classes {names}"
            )
        labels.append(position[record.method])
    return labels


def split_counts(records: Iterable[VideoRecord]) -> dict[str, dict[Split, int]]:
    """Videos per class and split, classes in :func:`class_names` order, every split present.

    >>> from fakescan.data.datasets.index import VideoRecord
    >>> rows = [VideoRecord("a", "a.mp4", 0, "real", "train", "x"),
    ...         VideoRecord("b", "b.mp4", 1, "FaceSwap", "test", "x")]
    >>> split_counts(rows)
    {'real': {'train': 1, 'val': 0, 'test': 0}, 'FaceSwap': {'train': 0, 'val': 0, 'test': 1}}
    """
    records = list(records)
    counted = Counter((record.method, record.split) for record in records)
    return {name: {split: counted[name, split] for split in SPLITS} for name in class_names(records)}


def balance(
    records: Sequence[VideoRecord], strategy: Literal["subsample", "none"] = "subsample", seed: int = 0
) -> list[VideoRecord]:
    """Equal numbers of real and fake videos in each split, by subsampling the larger class.

    The larger class keeps as many videos as the smaller one has, shared among its methods in
    proportion to their sizes (so 720 reals against 4 × 720 FF++ fakes keep 180 fakes per method);
    which videos stay is fixed by ``seed``. A split holding one class only is left as it is. The
    records keep their input order. ``strategy="none"`` returns them all.

    >>> from fakescan.data.datasets.index import VideoRecord
    >>> rows = [VideoRecord(f"r{i}", "", 0, "real", "train", "x") for i in range(2)]
    >>> rows += [VideoRecord(f"{m}{i}", "", 1, m, "train", "x") for m in ("A", "B") for i in range(3)]
    >>> kept = balance(rows, seed=0)
    >>> sorted(Counter(r.method for r in kept).items())
    [('A', 1), ('B', 1), ('real', 2)]
    """
    if strategy == "none":
        return list(records)
    if strategy != "subsample":
        raise ConfigError(f"balance strategy must be 'subsample' or 'none', got {strategy!r}")
    keep: set[int] = set()
    for split in SPLITS:
        positions = [i for i, record in enumerate(records) if record.split == split]
        by_label: dict[int, list[int]] = defaultdict(list)
        for i in positions:
            by_label[records[i].label].append(i)
        if len(by_label) < 2:
            keep.update(positions)
            continue
        smaller, larger = sorted(by_label.values(), key=len)
        keep.update(smaller)
        by_method: dict[str, list[int]] = defaultdict(list)
        for i in larger:
            by_method[records[i].method].append(i)
        methods = sorted(by_method)
        quotas = allocate(len(smaller), [len(by_method[m]) for m in methods])
        for method, quota in zip(methods, quotas, strict=True):
            chosen = seeded_order((records[i].video_id for i in by_method[method]), seed)[:quota]
            wanted = set(chosen)
            keep.update(i for i in by_method[method] if records[i].video_id in wanted)
    return [record for i, record in enumerate(records) if i in keep]


def class_weights(records: Sequence[VideoRecord], by: Literal["label", "method"] = "label") -> list[float]:
    """A sampling weight per record such that every class is drawn equally often.

    A record's weight is ``1 / (number of classes × size of its class)``: the weights sum to 1 and
    each class holds an equal share, ready for ``torch.utils.data.WeightedRandomSampler``. Classes
    are the binary labels (``by="label"``) or the methods (``by="method"``). Pass one split at a time.

    >>> from fakescan.data.datasets.index import VideoRecord
    >>> rows = [VideoRecord("r", "", 0, "real", "train", "x")]
    >>> rows += [VideoRecord(f"f{i}", "", 1, "A", "train", "x") for i in range(3)]
    >>> class_weights(rows)
    [0.5, 0.16666666666666666, 0.16666666666666666, 0.16666666666666666]
    """
    if by not in ("label", "method"):
        raise ConfigError(f"class_weights groups by 'label' or 'method', got {by!r}")
    keys = [record.label if by == "label" else record.method for record in records]
    sizes = Counter(keys)
    return [1.0 / (len(sizes) * sizes[key]) for key in keys]
