"""Tests of fakescan.synth.pseudo: Self-Blended pseudo-fakes of real face crops, served as samples."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from fakescan.data.datasets.index import CropRecord
from fakescan.data.images import read_image, write_image
from fakescan.data.loading import CropFolderDataset, make_loader, set_epoch
from fakescan.data.transforms import AugmentConfig, EvalTransform, TrainTransform
from fakescan.errors import ConfigError, InputError
from fakescan.models.output import InputConfig
from fakescan.synth.pseudo import SBI_METHOD, PseudoFakeDataset
from fakescan.train.config import load_config
from fakescan.train.engine import TrainingData, _loaders
from tests.fakes import resynthesise_face

SIZE = 96
EVAL = EvalTransform(InputConfig(image_size=SIZE))
TRAIN = TrainTransform(InputConfig(image_size=SIZE), AugmentConfig(flip_p=0.5, jpeg_p=0.5, noise_p=0.5))


@pytest.fixture(scope="module")
def crops(samples: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[CropRecord]]:
    """Real 1.3× face crops of three sample photos (two "frames" of the first: it and its mirror
    image) and one manipulated crop."""
    from fakescan.data.faces import create_detector
    from fakescan.data.faces.crop import crop_face

    root = tmp_path_factory.mktemp("pseudo-crops")
    detector = create_detector("hog")
    records = []
    for name in ("obama", "biden", "single_face"):
        image = read_image(samples / "images" / f"{name}.jpg")
        found = detector.detect(image)
        assert len(found) == 1
        face = crop_face(image, found[0].box, size=SIZE, margin=1.3)
        frames = [face, np.ascontiguousarray(face[:, ::-1])] if name == "obama" else [face]
        (root / "real" / name).mkdir(parents=True)
        for frame, pixels in enumerate(frames):
            write_image(root / f"real/{name}/{frame}.png", pixels)
            records.append(CropRecord(f"real/{name}/{frame}.png", name, frame, 0, "real", "train", "t"))
    fake = resynthesise_face(read_image(root / "real/obama/0.png"), np.random.default_rng(0))
    (root / "fake/obama").mkdir(parents=True)
    write_image(root / "fake/obama/0.png", fake)
    records.insert(2, CropRecord("fake/obama/0.png", "fake/obama", 0, 1, "Resynth", "train", "t"))
    return root, records


def pseudo(
    crops: tuple[Path, list[CropRecord]], transform=EVAL, seed: int = 3, **kwargs
) -> PseudoFakeDataset:
    root, records = crops
    return PseudoFakeDataset(CropFolderDataset(records, root, transform, seed=seed), **kwargs)


def test_every_sample_then_one_pseudo_fake_per_real(crops: tuple[Path, list[CropRecord]]) -> None:
    _, records = crops
    data = pseudo(crops)
    reals = [r for r in records if r.label == 0]
    assert len(data) == len(records) + len(reals) == 9
    assert data.class_names == ("real", "Resynth", SBI_METHOD)
    for index in range(len(records)):
        assert torch.equal(data[index].image, data.base[index].image)
        assert data[index].crop == records[index].crop
    base_videos = {r.video_id for r in records}
    made = [data[index] for index in range(len(records), len(data))]
    for sample, real in zip(made, reals, strict=True):
        assert (sample.label, sample.class_index) == (1, data.class_names.index(SBI_METHOD))
        assert sample.crop == real.crop + "#sbi" and sample.frame_index == real.frame_index
        assert sample.video_id == real.video_id + "#sbi" and sample.video_id not in base_videos
    assert data.targets("label") == [0, 0, 1, 0, 0, 1, 1, 1, 1]
    assert data.targets("class") == [0, 0, 1, 0, 0, 2, 2, 2, 2]
    with pytest.raises(IndexError):
        data.blend(0)  # a real sample is not a pseudo-fake
    with pytest.raises(IndexError):
        data[len(data)]


def test_a_pseudo_fake_differs_from_its_real_crop_inside_the_blend_only(
    crops: tuple[Path, list[CropRecord]],
) -> None:
    data = pseudo(crops)
    for index in range(len(data.base), len(data)):
        real = data.real_of(index)
        blend = data.blend(index)
        pixels = data.base.pixels(real)
        changed = (blend.image != pixels).any(axis=2)
        assert changed.sum() > 500, index  # a visible change, in the face ...
        assert changed[SIZE // 2 - 8 : SIZE // 2 + 8, SIZE // 2 - 8 : SIZE // 2 + 8].any()
        assert not changed[blend.mask == 0].any()  # ... and nowhere else
        # The served tensors (no augmentation: the crops are already SIZE) agree with that.
        moved = (data[index].image != data[real].image).any(dim=0).numpy()
        np.testing.assert_array_equal(moved, changed)


def test_pseudo_fakes_repeat_with_seed_and_epoch_and_change_with_the_epoch(
    crops: tuple[Path, list[CropRecord]],
) -> None:
    indices = range(5, 9)
    one, two = pseudo(crops, TRAIN), pseudo(crops, TRAIN)
    first = [one[i].image for i in indices]
    assert all(torch.equal(a, two[i].image) for a, i in zip(first, indices, strict=True))
    one.set_epoch(1)
    assert one.base.epoch == 1
    assert not any(torch.equal(a, one[i].image) for a, i in zip(first, indices, strict=True))
    one.set_epoch(0)
    assert all(torch.equal(a, one[i].image) for a, i in zip(first, indices, strict=True))
    other_seed = pseudo(crops, TRAIN, seed=4)
    assert not any(torch.equal(a, other_seed[i].image) for a, i in zip(first, indices, strict=True))

    fixed = pseudo(crops, EVAL, fixed=True)
    masks = [fixed.blend(i).mask for i in indices]
    fixed.set_epoch(5)
    assert fixed.base.epoch == 5 and fixed.epoch == 0
    assert all(np.array_equal(m, fixed.blend(i).mask) for m, i in zip(masks, indices, strict=True))
    assert all(
        torch.equal(a.image, b.image)
        for a, b in zip([fixed[i] for i in indices], [pseudo(crops, EVAL)[i] for i in indices], strict=True)
    )


def test_loaders_with_workers_serve_the_same_pseudo_fakes(crops: tuple[Path, list[CropRecord]]) -> None:
    data = pseudo(crops, TRAIN)
    set_epoch(loader := make_loader(data, batch_size=4, workers=2, pin_memory=False), 2)
    served = {}
    for batch in loader:
        for image, video, frame in zip(
            batch.images, batch.video_ids, batch.frame_indices.tolist(), strict=True
        ):
            served[(video, frame)] = image
    assert len(served) == len(data)
    for index in range(len(data)):
        sample = data[index]
        assert torch.equal(served[(sample.video_id, sample.frame_index)], sample.image)


def test_balanced_sampling_draws_as_many_fakes_as_reals(crops: tuple[Path, list[CropRecord]]) -> None:
    root, records = crops
    only_reals = [r for r in records if r.label == 0]
    data = PseudoFakeDataset(CropFolderDataset(only_reals, root, EVAL))
    assert data.targets() == [0, 0, 0, 0, 1, 1, 1, 1]
    mixed = pseudo(crops)  # 4 reals against 1 + 4 fakes
    assert mixed.targets("label") == [0, 0, 1, 0, 0, 1, 1, 1, 1]
    loader = make_loader(mixed, batch_size=3, balance="label", workers=0, seed=1)
    drawn: Counter[int] = Counter()
    for epoch in range(40):
        set_epoch(loader, epoch)
        drawn.update(label for batch in loader for label in batch.labels.tolist())
    assert sum(drawn.values()) == 40 * len(mixed)
    assert 0.4 < drawn[1] / sum(drawn.values()) < 0.6, drawn
    with pytest.raises(ConfigError, match="targets"):
        make_loader(torch.utils.data.TensorDataset(torch.zeros(2)), batch_size=1, balance="label")


def test_a_missing_crop_names_the_file(crops: tuple[Path, list[CropRecord]], tmp_path: Path) -> None:
    _, records = crops
    data = PseudoFakeDataset(CropFolderDataset(records[:1], tmp_path, EVAL))
    with pytest.raises(InputError, match=r"0\.png"):
        data[1]


def test_training_loaders_add_pseudo_fakes_and_give_validation_fixed_ones_only_without_fakes(
    crops: tuple[Path, list[CropRecord]],
) -> None:
    root, records = crops
    reals = [r for r in records if r.label == 0]
    config = load_config(
        overrides={"model": "cnn", "data": {"image_size": 64, "batch_size": 4, "pseudo_fakes": "sbi"}}
    )
    names = ("real", "Resynth")
    train, val = _loaders(TrainingData(reals, reals, root, root, names), config, InputConfig(image_size=64))
    assert isinstance(train.dataset, PseudoFakeDataset) and not train.dataset.fixed
    assert isinstance(val.dataset, PseudoFakeDataset) and val.dataset.fixed
    assert len(train.dataset) == len(val.dataset) == 2 * len(reals)
    _, val = _loaders(TrainingData(reals, records, root, root, names), config, InputConfig(image_size=64))
    assert isinstance(val.dataset, CropFolderDataset)  # validation has fakes: left alone
    auto = load_config(overrides={"model": "cnn", "data": {"image_size": 64}})  # the default: self-blends
    train, _ = _loaders(TrainingData(reals, records, root, root, names), auto, InputConfig(image_size=64))
    assert isinstance(train.dataset, PseudoFakeDataset)
    plain = load_config(overrides={"model": "cnn", "data": {"image_size": 64, "pseudo_fakes": "none"}})
    train, _ = _loaders(TrainingData(reals, records, root, root, names), plain, InputConfig(image_size=64))
    assert isinstance(train.dataset, CropFolderDataset)
    with pytest.raises(ConfigError, match="the validation crops are all real"):  # no fakes to choose on
        _loaders(TrainingData(reals, reals, root, root, names), plain, InputConfig(image_size=64))


def test_landmark_masks_follow_each_crops_face_and_labels_stay_right(
    crops: tuple[Path, list[CropRecord]], landmarks, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """``landmarks``: each pseudo-fake blends through its own crop's landmark hull (the mirrored
    frame's mask is mirrored too); a crop without a found face falls back to the ellipse, logged once."""
    from fakescan.synth.masks import hull_mask

    _, records = crops
    data = pseudo(crops, landmarks=landmarks)
    reals = [r for r in records if r.label == 0]
    assert [data[i].label for i in range(len(data))] == [r.label for r in records] + [1] * len(reals)
    for index in range(len(data.base), len(data)):
        real = data.real_of(index)
        pixels = data.base.pixels(real)
        blend = data.blend(index)
        hull = hull_mask(pixels.shape[:2], landmarks(pixels))
        assert (blend.mask * hull).sum() / blend.mask.sum() > 0.75
        assert not (blend.image != pixels).any(axis=2)[blend.mask == 0].any()
    assert data.landmark_fallbacks == 0

    blank = []
    for number in range(2):
        write_image(tmp_path / f"blank{number}.png", np.full((SIZE, SIZE, 3), 100 + number, np.uint8))
        blank.append(CropRecord(f"blank{number}.png", f"blank{number}", 0, 0, "real", "train", "t"))
    fallback = PseudoFakeDataset(CropFolderDataset(blank, tmp_path, EVAL), landmarks=landmarks)
    with caplog.at_level("WARNING", logger="fakescan.synth.pseudo"):
        fallback[2], fallback[3], fallback[2]
    assert fallback.landmark_fallbacks == 2  # two crops, each looked at once
    assert [r.getMessage() for r in caplog.records if "no face found for landmarks" in r.getMessage()] == [
        f"{tmp_path / 'blank0.png'}: no face found for landmarks; its self-blend uses the central ellipse "
        "mask (further such crops are counted, not logged)"
    ]
    assert fallback[2].label == 1


def _mesh_reals(crops_dir: Path, count: int = 4) -> list[CropRecord]:
    """Real crops of ``crops_dir`` from different sample videos and photos (each folder has its mesh)."""
    from fakescan.data.datasets.index import read_crop_table

    reals, folders = [], set()
    for record in read_crop_table(crops_dir / "crops.csv"):
        folder = record.crop.rsplit("/", 1)[0]
        if record.label == 0 and record.split == "train" and folder not in folders:
            reals.append(record)
            folders.add(folder)
    return reals[:count]


def test_mesh_masks_stay_in_the_face_mesh_hull_and_repeat_with_the_seed(crops_dir: Path) -> None:
    """``mesh``: the blend changes pixels only inside each crop's FaceMesh hull (grown by the paper's
    deformation), the same with the same seed, labelled fake; no crop falls back."""
    import cv2

    from fakescan.data.meshes import CropMeshes
    from fakescan.synth.masks import hull_mask

    reals = _mesh_reals(crops_dir)
    meshes = CropMeshes(crops_dir)
    small = EvalTransform(InputConfig(image_size=64))
    data = PseudoFakeDataset(CropFolderDataset(reals, crops_dir, small, seed=3), mesh=meshes)
    again = PseudoFakeDataset(CropFolderDataset(reals, crops_dir, small, seed=3), mesh=CropMeshes(crops_dir))
    other = PseudoFakeDataset(CropFolderDataset(reals, crops_dir, small, seed=4), mesh=meshes)
    for index in range(len(reals), 2 * len(reals)):
        pixels = data.base.pixels(data.real_of(index))
        blend = data.blend(index)
        hull = hull_mask(pixels.shape[:2], meshes(reals[index - len(reals)]))
        changed = (blend.image != pixels).any(axis=2)
        assert changed.sum() > 0.1 * hull.sum()
        # the paper's deformation (affine and elastic warps, dilation, blur) reaches a little outside
        outside = cv2.distanceTransform(1 - hull.astype(np.uint8), cv2.DIST_L2, 3)
        assert outside[changed].max() < 0.2 * 64 and (outside > 0.2 * 64).sum() > 0.05 * 64 * 64
        assert (blend.mask * hull).sum() / blend.mask.sum() > 0.75
        np.testing.assert_array_equal(blend.image, again.blend(index).image)
        assert not np.array_equal(blend.image, other.blend(index).image)
        assert data[index].label == 1 and data[index].crop.endswith("#sbi")
    assert (data.mesh_fallbacks, data.landmark_fallbacks) == (0, 0)


def test_crops_without_a_mesh_fall_back_to_dlib_then_the_ellipse_counted_and_logged_once(
    crops_dir: Path, landmarks, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import shutil

    from fakescan.data.meshes import CropMeshes
    from fakescan.synth.masks import hull_mask

    reals = _mesh_reals(crops_dir, 2)
    for record in reals:  # the crops without their folders' _mesh.npz
        (tmp_path / record.crop).parent.mkdir(parents=True)
        shutil.copyfile(crops_dir / record.crop, tmp_path / record.crop)
    data = PseudoFakeDataset(
        CropFolderDataset(reals, tmp_path, EVAL), landmarks=landmarks, mesh=CropMeshes(tmp_path)
    )
    with caplog.at_level("WARNING", logger="fakescan.synth.pseudo"):
        fakes = [data[2], data[3], data[2]]
    assert data.mesh_fallbacks == 2 and [f.label for f in fakes] == [1, 1, 1]
    logged = [r.getMessage() for r in caplog.records if "has no face mesh" in r.getMessage()]
    mesh_file = (tmp_path / reals[0].crop).parent / "_mesh.npz"
    assert logged == [
        f"{tmp_path / reals[0].crop} has no face mesh ({mesh_file}: no such file); its self-blend uses "
        "dlib's landmarks (further such crops are counted, not logged)"
    ]
    for index in (2, 3):
        pixels = data.base.pixels(data.real_of(index))
        found = landmarks(pixels)
        if found is not None:  # dlib's hull, as with landmarks alone
            blend = data.blend(index)
            assert (blend.mask * hull_mask(pixels.shape[:2], found)).sum() / blend.mask.sum() > 0.75
    assert data.landmark_fallbacks == sum(landmarks(data.base.pixels(i)) is None for i in (0, 1))
    ellipse = PseudoFakeDataset(CropFolderDataset(reals, tmp_path, EVAL), mesh=CropMeshes(tmp_path))
    assert ellipse[2].label == 1 and (ellipse.mesh_fallbacks, ellipse.landmark_fallbacks) == (1, 1)
    plain = PseudoFakeDataset(CropFolderDataset(reals, tmp_path, EVAL))
    np.testing.assert_array_equal(ellipse.blend(2).mask, plain.blend(2).mask)
