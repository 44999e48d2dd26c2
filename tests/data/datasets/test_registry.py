"""The registry and build_index (fakescan.data.datasets.registry), run over every miniature layout."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from fakescan.data.datasets import DATASETS, SPLITS, adapter_options, build_index, overlap
from fakescan.errors import ConfigError
from tests.data.datasets.layouts import MINIATURES


def quiet_index(name: str, root: Path, **options: object):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build_index(name, root, **options)


def test_every_registered_data_set_has_a_miniature() -> None:
    assert set(DATASETS) == set(MINIATURES)
    assert list(DATASETS) == ["ffpp", "dfd", "celebdf-v1", "celebdf-v2", "dfdc", "dfdcp", "folders"]


@pytest.mark.parametrize("name", list(MINIATURES))
def test_train_val_and_test_share_no_video_and_no_source(tmp_path: Path, name: str) -> None:
    records = quiet_index(name, MINIATURES[name](tmp_path))
    assert {r.dataset for r in records} == {name}
    assert {r.split for r in records} <= set(SPLITS) and any(r.split == "test" for r in records)
    videos = {split: {r.video_id for r in records if r.split == split} for split in SPLITS}
    sources = {split: {s for r in records if r.split == split for s in r.sources} for split in SPLITS}
    for a, b in (("train", "test"), ("train", "val"), ("val", "test")):
        assert overlap(videos[a], videos[b]) == set()
        assert overlap(sources[a], sources[b]) == set()
    assert all(r.sources for r in records)
    for record in records:
        assert (tmp_path / record.path).is_file()
        assert record.video_id == record.path.rsplit(".", 1)[0]


def test_unknown_name_lists_the_choices() -> None:
    with pytest.raises(ConfigError) as caught:
        build_index("faceforensics", ".")
    assert str(caught.value) == (
        "unknown data set 'faceforensics';"
        " choose one of: ffpp, dfd, celebdf-v1, celebdf-v2, dfdc, dfdcp, folders"
    )


def test_options_reach_the_adapter_or_are_refused(tmp_path: Path) -> None:
    root = MINIATURES["celebdf-v2"](tmp_path)
    small = quiet_index("celebdf-v2", root, val_fraction=0.0)
    assert not any(r.split == "val" for r in small)
    with pytest.raises(
        ConfigError,
        match=r"data set 'celebdf-v2' takes no option compression \(its options: val_fraction, seed\)",
    ):
        build_index("celebdf-v2", root, compression="c23")
    assert adapter_options("dfdc") == ("val_fraction", "val_parts", "seed")
