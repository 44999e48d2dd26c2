"""The leakage guard: no video, and no source identity, in more than one split.

A detector that has seen a test video in training, or the real video a test fake was made from,
scores well for the wrong reason. Two checks stop that:

- **video**: a ``video_id`` belongs to one split only;
- **sources**: every identity in a record's ``sources`` belongs to one split only. What a source
  is depends on the data set and is chosen by its adapter: the FF++ source video ids (a fake
  ``953_974`` has sources ``953`` and ``974``, so both reals follow it), the DFD actors, the DFDC
  original a fake was made from. Where the official split itself shares identities between train
  and test (Celeb-DF), the adapter sets ``sources`` to the video alone, so only videos are checked.

Every adapter runs :func:`check_disjoint` before it returns; loaders may run it again on an index
read from disk. :func:`overlap` compares two plain id lists, e.g. the videos a checkpoint was
trained on against a test set.
"""

from __future__ import annotations

from collections.abc import Iterable

from fakescan.data.datasets.index import VideoRecord
from fakescan.errors import SplitLeakError

__all__ = ["check_disjoint", "overlap"]


def check_disjoint(records: Iterable[VideoRecord]) -> None:
    """Raise :class:`SplitLeakError` if a video id or a source identity is in two splits.

    A record without ``sources`` counts as its own source. The message is one line naming the
    offending id, both splits and, for a source, one video of each side.

    >>> from fakescan.data.datasets.index import VideoRecord
    >>> fake = VideoRecord("f/953_974", "f/953_974.mp4", 1, "Deepfakes", "train", "ffpp", ("953", "974"))
    >>> real = VideoRecord("r/974", "r/974.mp4", 0, "real", "test", "ffpp", ("974",))
    >>> check_disjoint([fake, real])
    Traceback (most recent call last):
    ...
    fakescan.errors.SplitLeakError: split leak: source '974' is in train (f/953_974) and in test (r/974)
    """
    video_split: dict[str, str] = {}
    source_owner: dict[str, VideoRecord] = {}
    for record in records:
        seen = video_split.setdefault(record.video_id, record.split)
        if seen != record.split:
            raise SplitLeakError(f"split leak: video {record.video_id!r} is in {seen} and in {record.split}")
        for source in record.sources or (record.video_id,):
            owner = source_owner.setdefault(source, record)
            if owner.split != record.split:
                raise SplitLeakError(
                    f"split leak: source {source!r} is in {owner.split} ({owner.video_id})"
                    f" and in {record.split} ({record.video_id})"
                )


def overlap(train_ids: Iterable[str], test_ids: Iterable[str]) -> set[str]:
    """The ids found in both lists (empty when the two sets are disjoint).

    >>> sorted(overlap(["a", "b", "c"], ["c", "d", "a"]))
    ['a', 'c']
    >>> overlap([], ["x"])
    set()
    """
    return set(train_ids) & set(test_ids)
