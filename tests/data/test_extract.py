"""End-to-end tests of fakescan.data.extract on real sample media and made-up edge cases."""

from __future__ import annotations

import csv
import itertools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from fakescan.data.extract import RECORD_NAME, ExtractConfig, collect_inputs, run_extraction, select_shard
from fakescan.data.images import read_image
from fakescan.errors import ConfigError
from tests.conftest import read_index


def read_manifest(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def snapshot(out: Path) -> dict[str, bytes]:
    """Every file under ``out`` (relative path → bytes)."""
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


@pytest.fixture
def face_videos(tmp_path: Path, make_video, samples: Path) -> Path:
    """A folder of four short synthetic videos showing a real face, with their index stamped."""
    face = read_image(samples / "images/single_face.jpg")
    folder = tmp_path / "clips"
    folder.mkdir()
    for n in range(4):
        made = make_video(f"clip{n}.mp4", frames=30 + 10 * n, gop=10, background=face, size=(320, 320))
        made.rename(folder / made.name)
    return folder


def test_real_videos_and_images_give_uniform_crops(samples: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    inputs = [samples / "videos", samples / "images/obama.jpg", samples / "negatives"]
    report = run_extraction(inputs, out)
    by_file = {Path(r.item.path).name: r for r in report.results}
    assert by_file["WolfgangLanger_Pexels.mp4"].status == "ok"
    assert by_file["no_face.mp4"].status == "no_face" and by_file["mountain.jpg"].status == "no_face"
    rows = read_manifest(out / "manifest.csv")
    assert list(rows[0]) == [
        "source", "kind", "status", "frame_index", "timestamp", "face_index",
        "x1", "y1", "x2", "y2", "score", "crop", "reason", "landmarks",
    ]  # fmt: skip
    for video in ("WolfgangLanger_Pexels.mp4", "single_face.mp4"):
        mine = [r for r in rows if r["source"].endswith(video)]
        assert len(mine) == 32
        assert sum(r["status"] == "ok" for r in mine) >= 0.95 * 32
    wolf = [r for r in rows if r["source"].endswith("WolfgangLanger_Pexels.mp4")]
    indices = [int(r["frame_index"]) for r in wolf]
    assert indices == sorted(indices) and indices[0] < 472 / 32 and indices[-1] > 472 - 472 / 32
    assert float(wolf[-1]["timestamp"]) == pytest.approx(indices[-1] / 23.976, abs=0.01)
    crops = [out / r["crop"] for r in rows if r["crop"]]
    assert len(crops) == report.crops >= 70
    assert {read_image(p).shape for p in crops} == {(256, 256, 3)}
    assert (out / "WolfgangLanger_Pexels" / f"{indices[0]}.png").is_file()  # relative to the given folder
    assert (out / "obama/0.png").is_file()


def test_a_second_run_skips_finished_files_and_writes_the_same_output(
    face_videos: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    first = run_extraction([face_videos], out, ExtractConfig(frames=6))
    before = snapshot(out)
    assert first.status_counts["ok"] == 4 and not any(r.skipped for r in first.results)
    second = run_extraction([face_videos], out, ExtractConfig(frames=6))
    assert all(r.skipped for r in second.results)
    assert snapshot(out) == before
    third = run_extraction([face_videos], out, ExtractConfig(frames=6, size=64))  # new settings: redone
    assert not any(r.skipped for r in third.results)
    assert {read_image(out / r.crop).shape for r in third.rows if r.crop} == {(64, 64, 3)}


def test_crops_come_from_the_frames_the_manifest_names(face_videos: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_extraction([face_videos / "clip2.mp4"], out, ExtractConfig(frames=5, margin=4.0, border="pad"))
    rows = read_manifest(out / "manifest.csv")
    assert [int(r["frame_index"]) for r in rows] == [5, 15, 25, 35, 45]
    assert all(r["status"] == "ok" for r in rows)


def test_range_and_stride_select_frames(face_videos: Path, tmp_path: Path) -> None:
    report = run_extraction(
        [face_videos / "clip3.mp4"], tmp_path / "a", ExtractConfig(start_frame=10, end_frame=16, stride=1)
    )
    assert [r.frame_index for r in report.rows] == [10, 11, 12, 13, 14, 15]
    report = run_extraction(
        [face_videos / "clip3.mp4"], tmp_path / "b", ExtractConfig(start_frame=5, stride=20)
    )
    assert [r.frame_index for r in report.rows] == [5, 25, 45]


@pytest.mark.slow
def test_interrupted_run_resumes_to_the_same_output(face_videos: Path, tmp_path: Path) -> None:
    reference = tmp_path / "reference"
    run_extraction([face_videos], reference, ExtractConfig(frames=40))
    expected = snapshot(reference)
    out = tmp_path / "out"
    command = [
        sys.executable,
        "-m",
        "fakescan",
        "extract",
        str(face_videos),
        "--out",
        str(out),
        "--frames",
        "40",
    ]
    for crops_before_kill in (1, 45, 90):
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while len(list(out.rglob("*.png"))) < crops_before_kill and process.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.005)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert snapshot(out).keys() == expected.keys()
    for name, data in expected.items():
        if name.endswith(".csv"):
            continue  # the manifests differ only in the output folder named in crop paths: none
        assert snapshot(out)[name] == data, name
    assert (out / "manifest.csv").read_bytes() == (reference / "manifest.csv").read_bytes()


def test_bad_inputs_are_reported_one_line_each_and_the_run_goes_on(
    tmp_path: Path, face_videos: Path, make_video
) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "empty.mp4").write_bytes(b"")
    (bad / "notes.mp4").write_text("not a video at all\n" * 50)
    (bad / "noise.avi").write_bytes(np.random.default_rng(1).bytes(50_000))
    (bad / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)
    (bad / "readme.txt").write_text("ignored: not media")
    truncated = (face_videos / "clip3.mp4").read_bytes()
    (bad / "truncated.mp4").write_bytes(truncated[: len(truncated) // 3])
    good = face_videos / "clip0.mp4"
    report = run_extraction([bad, good, tmp_path / "missing.mp4"], tmp_path / "out", ExtractConfig(frames=4))
    status = {Path(r.item.path).name: r for r in report.results}
    assert status["clip0.mp4"].status == "ok"
    assert status["missing.mp4"].status == "unreadable" and status["missing.mp4"].reason == "file not found"
    assert status["empty.mp4"].reason == "file is empty (0 bytes)"
    assert status["notes.mp4"].status == "unreadable"
    assert status["noise.avi"].status in ("unreadable", "decode_error")
    assert status["broken.png"].status == "unreadable" and "decodable" in status["broken.png"].reason
    assert status["truncated.mp4"].status in ("ok", "unreadable", "decode_error")
    assert report.ignored == 1
    for result in report.results:
        assert result.reason.count("\n") == 0
        if result.status != "ok":
            assert not list((tmp_path / "out" / result.item.key).glob("*.png"))
    rows = read_manifest(tmp_path / "out" / "manifest.csv")
    assert {r["source"] for r in rows} >= {str(bad / "empty.mp4"), str(tmp_path / "missing.mp4")}


def test_shards_are_disjoint_and_complete(face_videos: Path, samples: Path) -> None:
    items, _, _ = collect_inputs([face_videos, samples])
    shards = [select_shard(items, i, 3) for i in range(3)]
    keys = [item.key for shard in shards for item in shard]
    assert sorted(keys) == sorted(item.key for item in items) and len(set(keys)) == len(keys)
    with pytest.raises(ConfigError, match="0 <= i < n"):
        select_shard(items, 3, 3)


def test_sharded_runs_write_their_own_manifests(face_videos: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    for index in range(2):
        run_extraction([face_videos], out, ExtractConfig(frames=3), shard=(index, 2))
    manifests = sorted(p.name for p in out.glob("manifest*.csv"))
    assert manifests == ["manifest.shard-0-of-2.csv", "manifest.shard-1-of-2.csv"]
    assert len({p.parent.name for p in out.rglob(RECORD_NAME)}) == 4


@pytest.mark.slow
def test_worker_processes_give_the_same_output_as_one(face_videos: Path, tmp_path: Path) -> None:
    run_extraction([face_videos], tmp_path / "one", ExtractConfig(frames=5))
    run_extraction([face_videos], tmp_path / "two", ExtractConfig(frames=5), workers=2)
    assert snapshot(tmp_path / "one") == snapshot(tmp_path / "two")


def test_all_faces_keeps_every_face_largest_first(samples: Path, tmp_path: Path) -> None:
    config = ExtractConfig(all_faces=True, detect_max_side=800, size=64)
    report = run_extraction([samples / "images/multi_face.jpg"], tmp_path / "out", config)
    names = sorted(Path(r.crop).name for r in report.rows if r.crop)
    assert len(names) >= 4 and names[:2] == ["0_0.png", "0_1.png"]
    areas = [(r.x2 - r.x1) * (r.y2 - r.y1) for r in report.rows]
    assert all(a >= 0.99 * b for a, b in itertools.pairwise(areas))  # up to the rounding of boxes


def test_colliding_names_get_distinct_folders(tmp_path: Path, make_video) -> None:
    first = make_video("take.mp4", frames=5)
    second = make_video("take.avi", frames=5, codec="mpeg4")
    items, _, _ = collect_inputs([tmp_path])
    assert sorted(i.key for i in items) == ["take_avi", "take_mp4"]
    items, _, _ = collect_inputs([first, second, first])
    assert [i.key for i in items] == ["take_mp4", "take_avi", "take_mp4_2"]


def test_stamped_frames_survive_the_pipeline(face_videos: Path, tmp_path: Path) -> None:
    report = run_extraction(
        [face_videos / "clip1.mp4"], tmp_path / "out", ExtractConfig(frames=4, margin=6, border="pad")
    )
    assert [r.frame_index for r in report.rows] == [5, 15, 25, 35]
    from fakescan.data.video import probe_video, read_frames

    frames = list(read_frames(probe_video(face_videos / "clip1.mp4"), [5, 15, 25, 35]))
    assert [read_index(f.image) for f in frames] == [5, 15, 25, 35]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"frames": 0}, "--frames"),
        ({"margin": 0.5}, "--margin"),
        ({"start_frame": 9, "end_frame": 3}, "--end-frame"),
        ({"image_format": "gif"}, "--format"),
        ({"border": "wrap"}, "--border"),
    ],
)
def test_invalid_settings_name_the_option(options: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ExtractConfig(**options)


def test_keyframes_only_reads_the_keyframe_nearest_each_sample(make_video, tmp_path: Path) -> None:
    from fakescan.data.video import probe_video

    video = make_video("long_gop.mp4", frames=120, gop=30)
    keyframes = set(probe_video(video).keyframes)
    exact = run_extraction([video], tmp_path / "exact", ExtractConfig(frames=8))
    snapped = run_extraction([video], tmp_path / "snapped", ExtractConfig(frames=8, keyframes_only=True))
    exact_frames = {row.frame_index for row in exact.rows}
    snapped_frames = {row.frame_index for row in snapped.rows}
    assert len(exact_frames) == 8 and not exact_frames <= keyframes
    assert snapped_frames <= keyframes and 1 < len(snapped_frames) <= len(keyframes)


def test_blazeface_writes_landmarks_in_the_manifest_and_the_mesh_beside_the_crops(
    samples: Path, tmp_path: Path
) -> None:
    from fakescan.data.extract import MESH_NAME, parse_landmarks

    out = tmp_path / "out"
    config = ExtractConfig(frames=4, detector="blazeface-full", all_faces=True)
    report = run_extraction(
        [samples / "images/multi_face.jpg", samples / "videos/single_face.mp4"], out, config
    )
    rows = [r for r in read_manifest(out / "manifest.csv") if r["status"] == "ok"]
    assert len(rows) == 5 + 4
    for row in rows:
        points = parse_landmarks(row["landmarks"])
        x1, y1, x2, y2 = (float(row[k]) for k in ("x1", "y1", "x2", "y2"))
        assert len(points) == 6
        assert all(x1 - 5 < x < x2 + 5 and y1 - 5 < y < y2 + 5 for x, y in points[:4])  # eyes, nose, mouth
    mesh = np.load(out / "single_face" / MESH_NAME)
    assert mesh["points"].shape == (4, 468, 3)
    assert mesh["frame_index"].tolist() == [int(r["frame_index"]) for r in rows if "single_face" in r["crop"]]
    eyes = parse_landmarks(rows[-1]["landmarks"])[:2]
    centres = [mesh["points"][-1, list(corners), :2].mean(axis=0) for corners in ((33, 133), (362, 263))]
    assert np.abs(np.array(centres) - np.array(eyes)).max() < 10  # mesh eye centres = detector eyes
    # a second run reuses the record; a lost mesh file makes the video be redone
    assert all(r.skipped for r in run_extraction([samples / "videos/single_face.mp4"], out, config).results)
    (out / "single_face" / MESH_NAME).unlink()
    (again,) = run_extraction([samples / "videos/single_face.mp4"], out, config).results
    assert not again.skipped and (out / "single_face" / MESH_NAME).is_file()
    assert report.crops == 9


def test_align_needs_a_detector_with_landmarks_and_levels_the_eyes(samples: Path, tmp_path: Path) -> None:
    from fakescan.data.faces import create_detector
    from fakescan.data.faces.crop import eye_angle

    with pytest.raises(ConfigError, match="--align needs a detector with landmarks"):
        ExtractConfig(align=True, detector="hog")
    config = ExtractConfig(detector="blazeface", align=True, all_faces=True, margin=2.0)
    run_extraction([samples / "images/breakingbad.jpg"], tmp_path, config)
    crops = sorted((tmp_path / "breakingbad").glob("*.png"))
    assert len(crops) == 2
    detector = create_detector("blazeface")
    for crop in crops:
        (face,) = detector.detect(read_image(crop))
        assert abs(eye_angle(*face.landmarks[:2])) < 6  # 9° and 24° in the photograph
