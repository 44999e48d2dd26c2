"""Tests of fakescan.synth.build: the synthetic FF++ tree, made from the real sample media."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from fakescan.data.datasets import index_ffpp
from fakescan.data.datasets.index import SPLITS
from fakescan.data.video import probe_video, read_frames
from fakescan.errors import ConfigError
from fakescan.synth.build import (
    METHOD_FOLDERS,
    SAME_PEOPLE,
    SYNTH_METHODS,
    SynthReport,
    animate_still,
    build_synthetic_ffpp,
    default_sources,
    every_sample_source,
    plan_pairs,
)
from fakescan.synth.faceswap import FaceClip, resynthesize_clip, swap_face_clip

FRAMES, SIZE, SEED = 12, 160, 7
FOLDERS = [METHOD_FOLDERS[method] for method in SYNTH_METHODS]


def _build(samples: Path, out: Path) -> SynthReport:
    return build_synthetic_ffpp(
        default_sources(samples), out, frames=FRAMES, size=SIZE, seed=SEED, clips_per_video=2
    )


@pytest.fixture(scope="module")
def built(samples: Path, tmp_path_factory: pytest.TempPathFactory) -> SynthReport:
    return _build(samples, tmp_path_factory.mktemp("synth") / "ffpp")


def _frame(path: Path, index: int) -> np.ndarray:
    return next(iter(read_frames(probe_video(path), [index]))).image


def _reals(root: Path) -> Path:
    return root / "original_sequences" / "youtube" / "c23" / "videos"


def test_index_ffpp_reads_the_tree_with_the_expected_counts(built: SynthReport) -> None:
    records = index_ffpp(built.root, methods=FOLDERS)  # runs the leakage guard too
    counts = Counter((record.split, record.method) for record in records)
    # 4 identities in train (the woman of the long video gives two clips), 2 in val, 2 in test.
    assert {split: len(pairs) for split, pairs in built.pairs.items()} == {"train": 3, "val": 1, "test": 1}
    for split in SPLITS:
        assert counts[(split, "real")] == built.reals[split] == 2 * len(built.pairs[split])
        for folder in FOLDERS:
            assert counts[(split, folder)] == built.reals[split]
    assert len(records) == 3 * sum(built.reals.values())
    assert not built.skipped


def test_no_person_is_in_two_splits(built: SynthReport) -> None:
    manifest = json.loads((built.root / "synth.json").read_text())
    people = {
        split: {manifest["clips"][c]["identity"] for p in built.pairs[split] for c in p} for split in SPLITS
    }
    assert not people["train"] & people["val"] and not people["train"] & people["test"]
    assert not people["val"] & people["test"]
    assert len(set().union(*people.values())) >= 6
    for pairs in built.pairs.values():
        for a, b in pairs:
            assert built.identities[a] != built.identities[b]


def test_videos_decode_with_the_expected_frame_count(built: SynthReport) -> None:
    videos = sorted(built.root.glob("**/c23/videos/*.mp4"))
    assert len(videos) == 3 * sum(built.reals.values())
    for path in videos:
        table = probe_video(path)
        assert (table.num_frames, table.width, table.height) == (FRAMES, SIZE, SIZE)
    last = list(read_frames(probe_video(videos[0]), [FRAMES - 1]))
    assert last and last[0].image.shape == (SIZE, SIZE, 3)


def _regions(box: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """The middle of the face box, and everything beyond the box enlarged by the mask's reach."""
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    inner = np.zeros((SIZE, SIZE), bool)
    inner[int(y1 + h / 4) : int(y2 - h / 4), int(x1 + w / 4) : int(x2 - w / 4)] = True
    outer = np.ones((SIZE, SIZE), bool)
    pad_x, pad_y = w / 4 + 4, h / 4 + 4
    outer[max(0, int(y1 - pad_y)) : int(y2 + pad_y), max(0, int(x1 - pad_x)) : int(x2 + pad_x)] = False
    return inner, outer


def test_fakes_differ_from_their_target_inside_the_face_only(built: SynthReport) -> None:
    manifest = json.loads((built.root / "synth.json").read_text())
    k = FRAMES // 2
    checked = 0
    for a, b in (pair for pairs in built.pairs.values() for p in pairs for pair in (p, p[::-1])):
        inner, outer = _regions(manifest["clips"][a]["boxes"][k])
        if outer.sum() < 2000:  # a face filling the frame leaves too little outside to compare
            continue
        checked += 1
        real = _frame(_reals(built.root) / f"{a}.mp4", k).astype(np.float32)
        for folder, inside_at_least in (("FaceSwap-lite", 20.0), ("Resynth", 4.0)):
            path = built.root / "manipulated_sequences" / folder / "c23" / "videos" / f"{a}_{b}.mp4"
            diff = np.abs(_frame(path, k).astype(np.float32) - real).mean(axis=2)
            # Outside the face the two videos differ only by H.264 noise (CRF 23).
            assert diff[outer].mean() < 5.0, (folder, a, b)
            assert diff[inner].mean() > max(inside_at_least, 2.0 * diff[outer].mean()), (folder, a, b)
    assert checked >= 4


def test_manipulations_leave_pixels_outside_their_masks_untouched(built: SynthReport) -> None:
    manifest = json.loads((built.root / "synth.json").read_text())
    a, b = built.pairs["train"][0]
    clips = []
    for name in (a, b):
        table = probe_video(_reals(built.root) / f"{name}.mp4")
        frames = np.stack([frame.image for frame in read_frames(table, range(4))])
        boxes = np.asarray(manifest["clips"][name]["boxes"][:4], np.float32)
        clips.append(FaceClip(frames, boxes, name))
    for fake in (swap_face_clip(clips[0], clips[1], np.random.default_rng(0)),
                 resynthesize_clip(clips[0], np.random.default_rng(0))):  # fmt: skip
        assert fake.frames.shape == clips[0].frames.shape
        assert ((fake.masks > 0) & (fake.masks < 1)).any()
        untouched = fake.masks == 0
        assert untouched.mean() > 0.3
        np.testing.assert_array_equal(fake.frames[untouched], clips[0].frames[untouched])
        assert (fake.frames != clips[0].frames).any(axis=3)[fake.masks > 0.5].mean() > 0.5


def _digests(root: Path) -> dict[str, str]:
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def test_the_same_seed_builds_the_same_files(built: SynthReport, samples: Path, tmp_path: Path) -> None:
    again = _build(samples, tmp_path / "again")
    assert again.pairs == built.pairs
    assert _digests(again.root) == _digests(built.root)


def test_refuses_a_non_empty_folder_unless_overwriting_its_own_build(samples: Path, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not empty"):
        build_synthetic_ffpp(default_sources(samples), tmp_path)
    with pytest.raises(ConfigError, match=r"no synth\.json"):
        build_synthetic_ffpp(default_sources(samples), tmp_path, overwrite=True)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_rejects_unknown_methods_and_bad_sizes(samples: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown synthetic method"):
        build_synthetic_ffpp(default_sources(samples), tmp_path / "a", methods=["Deepfakes"])
    with pytest.raises(ConfigError, match="even"):
        build_synthetic_ffpp(default_sources(samples), tmp_path / "b", size=129)


def test_plan_pairs_keeps_people_apart_and_needs_six() -> None:
    clips = {f"{n:03d}": name for n, name in enumerate(["ann"] * 3 + ["bob", "cy", "di", "ed", "flo", "gus"])}
    for seed in range(5):
        plan = plan_pairs(clips, seed)
        split_of = {clips[c]: split for split, pairs in plan.items() for pair in pairs for c in pair}
        assert {split for split in split_of.values()} == set(SPLITS)
        for pairs in plan.values():
            assert all(clips[a] != clips[b] for a, b in pairs)
            assert len({c for pair in pairs for c in pair}) == 2 * len(pairs)  # each clip used once
        assert [clip for pair in plan["train"] for clip in pair].count("000") <= 1
    assert plan_pairs(clips, 0) == plan_pairs(clips, 0)
    assert any(plan_pairs(clips, 0)["val"] != plan_pairs(clips, seed)["val"] for seed in range(1, 6))
    with pytest.raises(ConfigError, match="at least 6 different people"):
        plan_pairs({"000": "ann", "001": "bob", "002": "cy", "003": "di", "004": "ed"}, 0)


def test_a_still_photo_is_animated_with_a_moving_box() -> None:
    image = np.random.default_rng(0).integers(0, 256, (300, 400, 3), dtype=np.uint8)
    clip = animate_still(image, (150, 100, 250, 200), np.random.default_rng(1), 10, 96, "x")
    assert clip.frames.shape == (10, 96, 96, 3) and clip.boxes.shape == (10, 4)
    assert clip.fps == Fraction(12)
    assert np.ptp(clip.boxes[:, 0]) > 0.5  # the face drifts
    assert not np.array_equal(clip.frames[0], clip.frames[-1])
    side = clip.boxes[:, 2] - clip.boxes[:, 0]
    assert np.all(np.abs(side - 96 / 1.8) < 96 / 1.8 * 0.06)


@pytest.mark.slow
def test_every_sample_with_the_new_families_keeps_each_person_to_one_split(
    samples: Path, tmp_path: Path
) -> None:
    new = ["MouthWarp", "Checkerboard", "ColourBlend"]
    report = build_synthetic_ffpp(
        every_sample_source(samples), tmp_path / "all", methods=new, frames=4, size=96, seed=1,
        identities=SAME_PEOPLE, held_out=3, clips_per_video=1,
    )  # fmt: skip
    manifest = json.loads((report.root / "synth.json").read_text())
    origin = {clip["origin"].split()[0]: clip["identity"] for clip in manifest["clips"].values()}
    # Files showing the same person carry one identity, so the split by person holds.
    assert {origin.get("single_face.mp4"), origin.get("single_face.jpg")} - {None} == {"single_face"}
    assert {origin.get("obama.jpg"), origin.get("obama_32bit.png")} - {None} == {"obama"}
    people = {split: {report.identities[c] for pair in report.pairs[split] for c in pair} for split in SPLITS}
    assert len(set().union(*people.values())) >= 10
    assert len(people["test"]) >= 3 and len(people["val"]) >= 2
    assert not people["train"] & people["test"] and not people["val"] & people["test"]
    assert not people["train"] & people["val"]
    records = index_ffpp(report.root, methods=new)  # the leakage guard too
    assert Counter(r.method for r in records) == {
        "real": sum(report.reals.values()),
        **dict.fromkeys(new, sum(report.reals.values())),
    }
