"""The crop's frame-to-crop map (fakescan.data.extract.cut_matrix) and the face mesh in crop pixels
(fakescan.data.meshes.CropMeshes), on real sample faces extracted with the default BlazeFace detector."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from fakescan.data.datasets.crops import read_manifest
from fakescan.data.datasets.index import CropRecord, read_crop_table
from fakescan.data.extract import (
    MESH_NAME,
    ExtractConfig,
    MediaItem,
    build_detector,
    cut_matrix,
    iter_frame_faces,
    parse_landmarks,
    run_extraction,
)
from fakescan.data.faces.crop import square_crop_box
from fakescan.data.images import read_image, write_image
from fakescan.data.meshes import CropMeshes, map_points
from fakescan.errors import InputError
from tests.train.crops import SIZE


@pytest.fixture(scope="module")
def edge_photo(samples: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The group photo cut at x = 640, so that one face's square crop reaches over the right border."""
    path = tmp_path_factory.mktemp("edge") / "edge.png"
    write_image(path, np.ascontiguousarray(read_image(samples / "images/multi_face.jpg")[:, :640]))
    return path


@pytest.mark.parametrize("border", ["clamp", "pad"])
def test_cut_matrix_reproduces_the_square_crops(edge_photo: Path, border: str) -> None:
    config = ExtractConfig(size=192, border=border, all_faces=True)  # type: ignore[arg-type]
    (frame,) = iter_frame_faces(MediaItem(edge_photo, "image", "e"), config, build_detector(config))
    height, width = frame.image.shape[:2]
    reaching = 0
    for face in frame.faces:
        matrix = cut_matrix(face.detection, width, height, config)
        assert 1.0 < matrix[0, 0] == matrix[1, 1]  # upscaled: crop_face's cubic resize, no averaging

        def error(m: np.ndarray, crop: np.ndarray = face.crop) -> float:
            outside = cv2.BORDER_CONSTANT if border == "pad" else cv2.BORDER_REPLICATE  # black pad
            warped = cv2.warpAffine(frame.image, m, (192, 192), flags=cv2.INTER_CUBIC, borderMode=outside)
            inner = (slice(2, -2), slice(2, -2))  # resize and warp treat the square's edge apart
            return float(np.abs(warped[inner].astype(np.int16) - crop[inner]).mean())

        exact = error(matrix)
        assert exact < 0.3
        for dx, dy in ((0.25, 0.0), (0.0, 0.25), (-0.25, -0.25)):  # a quarter crop pixel off is far worse
            assert error(matrix + np.array([[0, 0, dx], [0, 0, dy]])) > 4 * exact
        *_, x2, _ = square_crop_box(face.detection.box, config.margin, width, height, config.border)
        reaching += (x2 == width) if border == "clamp" else (x2 > width)
    assert len(frame.faces) >= 4 and reaching == 1  # the border case is among them


def test_cut_matrix_is_the_aligned_crops(samples: Path) -> None:
    config = ExtractConfig(size=SIZE, align=True, all_faces=True)
    item = MediaItem(samples / "images/multi_face.jpg", "image", "m")
    (frame,) = iter_frame_faces(item, config, build_detector(config))
    for face in frame.faces:
        matrix = cut_matrix(face.detection, frame.image.shape[1], frame.image.shape[0], config)
        warped = cv2.warpAffine(frame.image, matrix, (SIZE, SIZE), flags=cv2.INTER_LINEAR)
        np.testing.assert_array_equal(warped, face.crop)
        eyes = map_points(np.array(face.detection.landmarks[:2]), matrix)
        assert abs(eyes[0, 1] - eyes[1, 1]) < 1e-6 and eyes[0, 0] < eyes[1, 0]


@pytest.fixture(scope="module")
def aligned(samples: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[CropRecord]]:
    out = tmp_path_factory.mktemp("aligned")
    config = ExtractConfig(frames=2, size=SIZE, align=True, all_faces=True)
    run_extraction([samples / "images/multi_face.jpg", samples / "videos/single_face.mp4"], out, config)
    return out, _records(out, "")


def _records(root: Path, prefix: str) -> list[CropRecord]:
    """The ok rows of ``root/prefix/manifest.csv`` as crop records, with their key points."""
    rows = read_manifest((root / prefix / "manifest.csv") if prefix else root / "manifest.csv")
    return [
        CropRecord(prefix + ("/" if prefix else "") + row.crop, row.crop.rsplit("/", 1)[0],
                   int(row.frame_index or 0), 0, "real", "train", "t", landmarks=row.landmarks)
        for row in rows if row.status == "ok" and row.crop
    ]  # fmt: skip


def test_the_mesh_lies_in_each_crop_around_its_centre_and_eyes(
    crops_dir: Path, aligned: tuple[Path, list[CropRecord]]
) -> None:
    square = [
        r
        for r in _records(crops_dir, "x")
        if r.crop in {c.crop for c in read_crop_table(crops_dir / "crops.csv")}
    ]
    tilts: list[float] = []
    for root, records in ((crops_dir, square), aligned):
        meshes = CropMeshes(root)
        assert len(records) >= 5
        for record in records:
            points = meshes(record)
            assert points is not None and points.shape == (468, 2) and points.dtype == np.float32
            # a 1.3x crop holds the face: the mesh at most grazes the edge (a chin or brow on it)
            inside = ((points >= -0.5) & (points <= SIZE - 0.5)).all(axis=1)
            assert inside.mean() > 0.97 and (np.abs(points - SIZE / 2) < 0.53 * SIZE).all(), record.crop
            hull = cv2.convexHull(points)
            eyes = map_points(np.array(parse_landmarks(record.landmarks)[:2]), meshes.crop_matrix(record))
            for x, y in ((SIZE / 2, SIZE / 2), *eyes.tolist()):
                assert cv2.pointPolygonTest(hull, (float(x), float(y)), True) > 2, record.crop
            if root is aligned[0]:  # the aligned crop's eyes are level (the key points are kept to 0.1 px)
                assert abs(eyes[0, 1] - eyes[1, 1]) < 0.2
                mesh_eyes = [points[list(corners)].mean(axis=0) for corners in ((33, 133), (362, 263))]
                tilts.append(abs(mesh_eyes[0][1] - mesh_eyes[1][1]))
        # the mesh's own eye corners come out nearly level too (a turned head tilts them a little)
        assert root is not aligned[0] or float(np.median(tilts)) < 2.0, tilts
        # one read per folder, kept
        assert len(meshes._folders) == len({Path(r.crop).parent for r in records})


def test_crops_without_a_mesh_entry_and_damaged_files(
    aligned: tuple[Path, list[CropRecord]], tmp_path: Path
) -> None:
    root, records = aligned
    meshes = CropMeshes(root)
    record = records[0]
    other = CropRecord(record.crop, record.video_id, record.frame_index + 1000, 0, "real", "train", "t")
    assert meshes(other) is None and "no entry for frame" in meshes.why_missing(other)
    bare = CropMeshes(tmp_path)
    assert bare(record) is None and bare.why_missing(record).endswith(f"{MESH_NAME}: no such file")
    assert not bare.covers(records) and meshes.covers(records)

    folder = tmp_path / Path(record.crop).parent
    folder.mkdir(parents=True)
    for damage in (b"not a zip", (root / record.crop).parent.joinpath(MESH_NAME).read_bytes()[:300]):
        (folder / MESH_NAME).write_bytes(damage)
        with pytest.raises(
            InputError, match=rf"{MESH_NAME}: damaged face-mesh file .*re-run fakescan extract"
        ):
            CropMeshes(tmp_path)(record)
    arrays = {"frame_index": np.zeros(1), "face_index": np.zeros(1), "points": np.zeros((1, 468, 3))}
    with open(folder / MESH_NAME, "wb") as handle:
        np.savez(handle, **arrays, crop_matrix=np.zeros((2, 2, 3)))  # one entry, two maps
    with pytest.raises(InputError, match=rf"{MESH_NAME}: damaged face-mesh file \(mismatched shapes"):
        CropMeshes(tmp_path)(record)
    with open(folder / MESH_NAME, "wb") as handle:
        np.save(handle, np.zeros(3))
    with pytest.raises(InputError, match=rf"{MESH_NAME}: damaged face-mesh file \(not an .npz archive\)"):
        CropMeshes(tmp_path)(record)
    with open(folder / MESH_NAME, "wb") as handle:
        np.savez(handle, **arrays)  # as written before the crop maps
    older = CropMeshes(tmp_path)
    assert older(record) is None and "before crop maps were recorded" in older.why_missing(record)


def test_a_mesh_written_without_crop_maps_is_extracted_again(samples: Path, tmp_path: Path) -> None:
    import json

    from fakescan.data.extract import RECORD_NAME

    image, config = samples / "images/obama.jpg", ExtractConfig(size=SIZE)
    run_extraction([image], tmp_path, config)
    record_file = tmp_path / "obama" / RECORD_NAME
    record = json.loads(record_file.read_text())
    assert record["mesh"] is True and record["mesh_version"] == 2
    assert np.load(tmp_path / "obama" / MESH_NAME)["crop_matrix"].shape == (1, 2, 3)
    assert run_extraction([image], tmp_path, config).results[0].skipped
    del record["mesh_version"]  # as written before the crop maps were kept
    record_file.write_text(json.dumps(record))
    (redone,) = run_extraction([image], tmp_path, config).results
    assert not redone.skipped and json.loads(record_file.read_text())["mesh_version"] == 2
