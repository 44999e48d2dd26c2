"""Tests of fakescan.data.loading: folder and shard datasets agree, and sharding loses no sample."""

from __future__ import annotations

import io
import json
import tarfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from fakescan.data.datasets.index import CropRecord, read_crop_table
from fakescan.data.loading import (
    Batch,
    ClassBalancedSampler,
    CropFolderDataset,
    Sample,
    ShardDataset,
    collate,
    make_loader,
    set_epoch,
)
from fakescan.data.packing import ShardIndex, SpectrumOptions, class_names_of, pack_shards
from fakescan.data.transforms import (
    AugmentConfig,
    EvalTransform,
    SpectrumTransform,
    TrainTransform,
    normalize_spectrum,
)
from fakescan.errors import ConfigError, InputError
from fakescan.models.output import InputConfig
from tests.data.test_packing import make_crop_folder

SIZE = 48
TRAIN = TrainTransform(InputConfig(image_size=SIZE), AugmentConfig(flip_p=0.5, jpeg_p=0.5, noise_p=0.5))
EVAL = EvalTransform(InputConfig(image_size=SIZE))


@pytest.fixture(scope="module")
def crops(samples: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[CropRecord]]:
    root = tmp_path_factory.mktemp("crops")
    return root, make_crop_folder(samples, root)


@pytest.fixture(scope="module")
def shards(crops: tuple[Path, list[CropRecord]], tmp_path_factory: pytest.TempPathFactory) -> ShardIndex:
    root, records = crops
    spectrum = SpectrumOptions(kind="dct", scale="log", mode="gray")
    return pack_shards(
        records, root, tmp_path_factory.mktemp("shards"), shard_size=3, spectrum=spectrum
    ).index


def by_crop(samples: list[Sample]) -> dict[str, Sample]:
    out = {sample.crop: sample for sample in samples}
    assert len(out) == len(samples), "a sample came twice"
    return out


def crops_of(loader: torch.utils.data.DataLoader) -> list[str]:
    """Every crop a loader yields, read back from the batches' video ids and frame indices."""
    return [
        f"{v}/{f:06d}.png"
        for batch in loader
        for v, f in zip(batch.video_ids, batch.frame_indices.tolist(), strict=True)
    ]


def test_folder_and_shards_yield_the_same_samples(
    crops: tuple[Path, list[CropRecord]], shards: ShardIndex
) -> None:
    root, records = crops
    train = [r for r in records if r.split == "train"]
    for transform in (EVAL, TRAIN):
        folder = CropFolderDataset(train, root, transform, class_names=shards.class_names, seed=5)
        stream = ShardDataset(shards.shard_paths("train"), transform, seed=5)
        from_folder = by_crop([folder[i] for i in range(len(folder))])
        from_shards = by_crop(list(stream))
        assert from_folder.keys() == from_shards.keys() == {r.crop for r in train}
        for crop, a in from_folder.items():
            b = from_shards[crop]
            assert torch.equal(a.image, b.image), crop  # same bytes, same augmentation draw
            assert (a.label, a.class_index, a.video_id, a.frame_index) == (
                b.label,
                b.class_index,
                b.video_id,
                b.frame_index,
            )
            assert a.image.shape == (3, SIZE, SIZE) and a.image.dtype == torch.float32
    labels = {s.crop: (s.label, s.class_index) for s in from_folder.values()}
    assert labels["Deepfakes/000_001/000008.png"] == (1, 1) and labels["real/000/000000.png"] == (0, 0)


def test_augmentations_change_with_the_epoch_and_repeat_with_it(crops: tuple[Path, list[CropRecord]]) -> None:
    root, records = crops
    dataset = CropFolderDataset(records[:6], root, TRAIN, seed=1)
    first = [dataset[i].image for i in range(6)]
    dataset.set_epoch(1)
    second = [dataset[i].image for i in range(6)]
    dataset.set_epoch(0)
    again = [dataset[i].image for i in range(6)]
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(first, second, strict=True))


@pytest.mark.parametrize("shard_size_case", ["many shards", "one shard"])
def test_two_workers_and_two_ranks_cover_every_sample_once(
    crops: tuple[Path, list[CropRecord]], shards: ShardIndex, tmp_path: Path, shard_size_case: str
) -> None:
    root, records = crops
    paths = shards.shard_paths("train")  # 16 samples in 6 shards
    if shard_size_case == "one shard":  # fewer shards than partitions: split by sample
        paths = pack_shards(records, root, tmp_path, shard_size=100, splits=["train"]).index.shard_paths(
            "train"
        )
    expected = sorted(r.crop for r in records if r.split == "train")
    one_rank = make_loader(ShardDataset(paths, EVAL), batch_size=4, workers=2)
    assert sorted(crops_of(one_rank)) == expected
    per_rank = []
    for rank in (0, 1):
        dataset = ShardDataset(paths, EVAL, shuffle_buffer=5, seed=3, rank=rank, world_size=2)
        per_rank.append(crops_of(make_loader(dataset, batch_size=3, workers=2)))
    assert per_rank[0] and per_rank[1]
    assert sorted(per_rank[0] + per_rank[1]) == expected


def test_ranks_come_from_torch_distributed_when_initialised(
    shards: ShardIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = shards.shard_paths("val")
    whole = sorted(s.crop for s in ShardDataset(paths, EVAL))
    monkeypatch.setattr(torch.distributed, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.distributed, "get_world_size", lambda group=None: 2)
    parts = []
    for rank in (0, 1):
        monkeypatch.setattr(torch.distributed, "get_rank", lambda group=None, rank=rank: rank)
        dataset = ShardDataset(paths, EVAL)
        assert dataset.partition() == (rank, 2)
        parts.append([s.crop for s in dataset])
    assert not set(parts[0]) & set(parts[1]) and sorted(parts[0] + parts[1]) == whole


def test_shuffle_buffer_is_a_seeded_permutation(shards: ShardIndex) -> None:
    paths = shards.shard_paths("train")
    in_order = [s.crop for s in ShardDataset(paths, EVAL)]
    shuffled = [s.crop for s in ShardDataset(paths, EVAL, shuffle_buffer=4, seed=7)]
    assert sorted(shuffled) == sorted(in_order) and shuffled != in_order
    assert shuffled == [s.crop for s in ShardDataset(paths, EVAL, shuffle_buffer=4, seed=7)]
    dataset = ShardDataset(paths, EVAL, shuffle_buffer=4, seed=7)
    dataset.set_epoch(1)
    assert [s.crop for s in dataset] != shuffled


def test_batches_and_stored_spectra(shards: ShardIndex) -> None:
    assert shards.spectrum_stats is not None
    dataset = ShardDataset(shards.shard_paths("test"), EVAL, spectrum_stats=shards.spectrum_stats)
    batch = next(iter(make_loader(dataset, batch_size=5, workers=0)))
    assert isinstance(batch, Batch) and len(batch) == 5
    assert batch.images.shape == (5, 3, SIZE, SIZE) and batch.labels.dtype == torch.int64
    assert batch.class_labels.tolist() == [0, 0, 0, 0, 2]  # real/004 × 4, then Face2Face
    assert batch.frame_indices.tolist() == [0, 8, 16, 24, 0]
    assert batch.spectra is not None and batch.spectra.shape == (5, 1, 64, 64)  # stored at crop size
    raw = next(iter(ShardDataset(shards.shard_paths("test"), EVAL)))
    assert raw.spectrum is not None
    assert torch.allclose(batch.spectra[0], normalize_spectrum(raw.spectrum, shards.spectrum_stats))
    computed = EvalTransform(InputConfig(image_size=SIZE), SpectrumTransform(shards.spectrum))
    own = next(iter(ShardDataset(shards.shard_paths("test"), computed)))
    assert own.spectrum is not None and own.spectrum.shape == (1, SIZE, SIZE)  # the transform's wins
    moved = batch.to("cpu")
    assert torch.equal(moved.images, batch.images) and moved.video_ids == batch.video_ids


def test_class_balanced_sampling(crops: tuple[Path, list[CropRecord]]) -> None:
    root, records = crops
    dataset = CropFolderDataset(records, root, EVAL)
    sampler = ClassBalancedSampler(dataset.targets("class"), num_samples=3000, seed=0)
    drawn = Counter(dataset.targets("class")[i] for i in sampler)
    assert [drawn[c] for c in range(3)] == [1000, 1000, 1000], drawn  # 14 real, 8 + 10 fake crops
    assert len(set(sampler)) == len(records)  # every crop of every class gets drawn
    halves = [
        ClassBalancedSampler(dataset.targets("class"), 3000, seed=0, rank=r, world_size=2) for r in (0, 1)
    ]
    assert [len(list(h)) for h in halves] == [1500, 1500] and list(halves[0]) != list(halves[1])
    loader = make_loader(dataset, batch_size=8, balance="label", workers=0, seed=2)
    set_epoch(loader, 3)
    assert loader.sampler.epoch == 3 and dataset.epoch == 3  # type: ignore[attr-defined]
    labels = torch.cat([batch.labels for batch in loader])
    assert len(labels) == len(records)
    with pytest.raises(ConfigError, match="shuffle_buffer"):
        make_loader(ShardDataset([], EVAL), batch_size=2, shuffle=True)


def test_balanced_batches_each_hold_both_classes(crops: tuple[Path, list[CropRecord]]) -> None:
    # The attention network's metric loss needs two reals and a fake in a batch; a weighted draw over
    # the whole epoch leaves batches without them, a per-batch one never does.
    root, records = crops
    dataset = CropFolderDataset(records, root, EVAL)
    loader = make_loader(dataset, batch_size=4, balance="label", workers=0, seed=0, drop_last=True)
    for epoch in range(30):
        set_epoch(loader, epoch)
        for batch in loader:
            assert sorted(batch.labels.tolist()) == [0, 0, 1, 1]
    by_class = make_loader(dataset, batch_size=7, balance="class", workers=0, seed=0)
    counts = [sorted(Counter(b.class_labels.tolist()).values()) for b in by_class]
    assert all(c[-1] - c[0] <= 1 and len(c) == 3 for c in counts[:-1]), counts
    assert sum(map(sum, counts)) == len(records)


def test_unreadable_images_name_the_crop(crops: tuple[Path, list[CropRecord]], tmp_path: Path) -> None:
    root, records = crops
    broken = tmp_path / "x.png"
    broken.write_bytes(b"\x89PNG not really")
    record = CropRecord("x.png", "v", 0, 1, "Deepfakes", "train", "d")
    with pytest.raises(InputError, match=r"x\.png: not a decodable image"):
        CropFolderDataset([record], tmp_path, EVAL)[0]
    with pytest.raises(InputError, match=r"gone\.png: crop file not found"):
        CropFolderDataset([CropRecord("gone.png", "v", 0, 1, "Deepfakes", "train", "d")], tmp_path, EVAL)[0]

    shard = tmp_path / "train-000000.tar"
    with tarfile.open(shard, "w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in (
            ("00000000.png", (root / records[0].crop).read_bytes()),
            ("00000000.json", json.dumps({**vars(records[0]), "class_index": 0}).encode()),
            ("00000001.png", b"garbage"),
            ("00000001.json", json.dumps({**vars(record), "class_index": 1}).encode()),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    stream = iter(ShardDataset([shard], EVAL))
    assert next(stream).crop == records[0].crop
    with pytest.raises(InputError, match=r"train-000000\.tar:00000001\.png: crop x\.png: not a decodable"):
        next(stream)
    with pytest.raises(InputError, match="shard not found"):
        list(ShardDataset([tmp_path / "missing.tar"], EVAL))
    (tmp_path / "bad.tar").write_bytes(b"no tar here" * 100)
    with pytest.raises(InputError, match="not a readable tar shard"):
        list(ShardDataset([tmp_path / "bad.tar"], EVAL))


def test_collate_refuses_a_mix_of_spectra() -> None:
    with_spectrum = Sample(torch.zeros(3, 2, 2), 0, 0, "v", 0, "v/0.png", torch.zeros(1, 2, 2))
    without = Sample(torch.zeros(3, 2, 2), 0, 0, "v", 1, "v/1.png")
    with pytest.raises(ValueError, match="1 of 2 samples carry a spectrum"):
        collate([with_spectrum, without])
    assert class_names_of([]) == ("real",)


def test_records_from_a_crop_table_load(crops: tuple[Path, list[CropRecord]]) -> None:
    root, records = crops
    table = read_crop_table(root / "crops.csv")
    assert table == records
    loader = make_loader(CropFolderDataset(table, root, TRAIN), batch_size=32, shuffle=True, workers=0)
    (batch,) = list(loader)
    assert batch.images.shape == (32, 3, SIZE, SIZE)
    assert np.isfinite(batch.images.numpy()).all() and batch.images.min() >= -1 and batch.images.max() <= 1
