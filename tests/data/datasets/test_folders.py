"""Users' own class folders, split or not (fakescan.data.datasets.folders)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from fakescan.data.datasets import DatasetWarning, index_folders
from fakescan.errors import ConfigError, DatasetLayoutError
from tests.data.datasets.layouts import make_folders


def test_binary_folders_with_a_seeded_split_per_class(tmp_path: Path) -> None:
    classes = {"real": [f"r{n}.mp4" for n in range(10)], "fake": [f"f{n}.png" for n in range(10)]}
    records = index_folders(make_folders(tmp_path, classes), fractions=(0.6, 0.2, 0.2), seed=3)
    assert Counter((r.label, r.split) for r in records) == {
        (0, "train"): 6, (0, "val"): 2, (0, "test"): 2, (1, "train"): 6, (1, "val"): 2, (1, "test"): 2,
    }  # fmt: skip
    assert {r.method for r in records} == {"real", "fake"}
    image = next(r for r in records if r.video_id == "fake/f3")
    assert (image.path, image.sources, image.dataset) == ("fake/f3.png", ("fake/f3",), "folders")


def test_method_folders_and_split_folders(tmp_path: Path) -> None:
    make_folders(
        tmp_path,
        {
            "real": ["train/a.mp4", "val/b.mp4", "test/c.mp4", "test/deep/d.avi", "loose.mp4"],
            "FaceSwap": ["train/a.mp4", "test/c.mp4"],
            "Deepfakes": ["train/x/1.jpg", "train/x/2.jpg"],
        },
    )
    with pytest.warns(
        DatasetWarning, match=r"1 files outside the train/ val/ test/ folders .*real/loose.mp4"
    ):
        records = index_folders(tmp_path)
    assert {r.video_id: r.split for r in records} == {
        "real/train/a": "train", "real/val/b": "val", "real/test/c": "test", "real/test/deep/d": "test",
        "FaceSwap/train/a": "train", "FaceSwap/test/c": "test",
        "Deepfakes/train/x/1": "train", "Deepfakes/train/x/2": "train",
    }  # fmt: skip
    with pytest.raises(ConfigError, match="already split"):
        index_folders(tmp_path, fractions=(0.8, 0.1, 0.1))


def test_group_by_folder_keeps_frames_of_a_video_together(tmp_path: Path) -> None:
    classes = {
        "real": [f"vid{v}/{f:03d}.png" for v in range(6) for f in range(5)],
        "fake": [f"vid{v}/{f:03d}.png" for v in range(6) for f in range(5)],
    }
    records = index_folders(make_folders(tmp_path, classes), group_by="folder", fractions=(0.5, 0.5, 0))
    folders: dict[str, set[str]] = {}
    for record in records:
        folders.setdefault(record.video_id.rsplit("/", 1)[0], set()).add(record.split)
        assert record.sources == (record.video_id.rsplit("/", 1)[0],)
    assert all(len(splits) == 1 for splits in folders.values()) and len(folders) == 12
    by_file = index_folders(tmp_path, fractions=(0.5, 0.5, 0))
    assert any(
        len({r.split for r in by_file if r.video_id.startswith(f"real/vid{v}/")}) == 2 for v in range(6)
    )


def test_colliding_names_get_their_extension(tmp_path: Path) -> None:
    records = index_folders(
        make_folders(tmp_path, {"real": ["a.mp4", "a.png"], "fake": ["b.mp4"]}), fractions=(1, 0, 0)
    )
    assert sorted(r.video_id for r in records) == ["fake/b", "real/a_mp4", "real/a_png"]


@pytest.mark.parametrize(
    ("classes", "message"),
    [
        ({"fake": ["a.mp4"], "other": ["b.mp4"]}, "no 'real' folder"),
        ({"real": ["a.mp4"]}, "only a 'real' folder"),
        (
            {"real": ["train/a.mp4"], "fake": ["b.mp4"]},
            "fake: has no train/ val/ test/ folders while other classes do",
        ),
        ({"real": ["notes.txt"], "fake": ["b.txt"]}, "no folders video found"),
    ],
)
@pytest.mark.filterwarnings("ignore::fakescan.data.datasets.DatasetWarning")
def test_layout_errors(tmp_path: Path, classes: dict[str, list[str]], message: str) -> None:
    with pytest.raises(DatasetLayoutError, match=message):
        index_folders(make_folders(tmp_path, classes))
    with pytest.raises(ConfigError, match="group_by"):
        index_folders(tmp_path, group_by="actor")  # type: ignore[arg-type]
