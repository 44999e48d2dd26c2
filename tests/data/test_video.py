"""Tests of fakescan.data.video: the frame table, even sampling and seeking reads."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from fakescan.data.video import even_frame_indices, probe_video, range_frame_indices, read_frames
from fakescan.errors import DecodeError, InputError
from tests.conftest import read_index


@pytest.mark.parametrize(("num", "count"), [(472, 32), (100, 7), (33, 32), (1000, 1)])
def test_even_indices_cover_the_video_in_equal_steps(num: int, count: int) -> None:
    indices = even_frame_indices(num, count)
    assert len(indices) == count
    assert indices == sorted(set(indices))
    assert 0 <= indices[0] < num / count and num - num / count <= indices[-1] < num
    gaps = [b - a for a, b in itertools.pairwise(indices)]
    assert max(gaps) - min(gaps) <= 1 if gaps else True


def test_even_indices_within_a_range_and_short_videos() -> None:
    assert even_frame_indices(1000, 4, start=100, end=200) == [112, 137, 162, 187]
    assert even_frame_indices(5, 32) == [0, 1, 2, 3, 4]
    assert even_frame_indices(10, 3, start=20) == []
    with pytest.raises(ValueError, match="count"):
        even_frame_indices(10, 0)


def test_range_indices_honour_stride_and_end() -> None:
    assert range_frame_indices(100, start=10, end=20, stride=4) == [10, 14, 18]
    assert range_frame_indices(12, start=10) == [10, 11]


def test_probe_counts_real_sample_frames(samples: Path) -> None:
    table = probe_video(samples / "videos/WolfgangLanger_Pexels.mp4")
    assert (table.num_frames, table.width, table.height) == (472, 640, 360)
    assert table.fps == pytest.approx(23.976, abs=0.01)
    assert table.keyframes[:3] == (0, 72, 144)
    assert table.timestamp(471) == pytest.approx(471 / 23.976, abs=0.01)


def test_probe_trusts_packets_not_the_header(samples: Path) -> None:
    # The header says 98 frames; an edit list hides the first 3, and a decoder gives 95.
    import av

    path = samples / "negatives/no_face.mp4"
    with av.open(str(path)) as container:
        declared = container.streams.video[0].frames
        decoded = sum(1 for _ in container.decode(video=0))
    assert (declared, decoded) == (98, 95)
    assert probe_video(path).num_frames == 95


def test_sampled_read_of_real_video_returns_exact_frames(samples: Path) -> None:
    import av
    import numpy as np

    path = samples / "videos/WolfgangLanger_Pexels.mp4"
    # Around keyframes, and the default 32-frame sampling (which lands on B-frames the reader must
    # decode while it skips the unreferenced ones around them).
    wanted = sorted({5, 71, 72, 73, 300, 471, *even_frame_indices(472, 32)})
    with av.open(str(path)) as container:
        reference = {
            i: f.to_ndarray(format="rgb24") for i, f in enumerate(container.decode(video=0)) if i in wanted
        }
    got = list(read_frames(probe_video(path), wanted))
    assert [f.index for f in got] == wanted
    for frame in got:
        assert frame.image.shape == (360, 640, 3)
        assert np.array_equal(frame.image, reference[frame.index])


@pytest.mark.parametrize(
    ("name", "codec", "gop"),
    [
        ("a.mp4", "libx264", 12),
        ("b.mkv", "libx264", 50),
        ("c.avi", "mpeg4", 10),
        ("d.webm", "libvpx-vp9", 15),
        ("e.mov", "mjpeg", 1),
    ],
)
def test_read_frames_returns_the_requested_frames_in_every_container(make_video, name, codec, gop) -> None:
    path = make_video(name, frames=90, codec=codec, gop=gop)
    table = probe_video(path)
    assert table.num_frames == 90
    wanted = [*even_frame_indices(90, 8), 0, 89, 13, 14]
    frames = list(read_frames(table, wanted))
    assert [f.index for f in frames] == sorted(set(wanted))
    assert [read_index(f.image) for f in frames] == [f.index for f in frames]
    assert frames[-1].timestamp == pytest.approx(89 / 25, abs=1e-3)


def test_read_frames_ignores_indices_out_of_range(make_video) -> None:
    table = probe_video(make_video(frames=20))
    assert [f.index for f in read_frames(table, [-1, 3, 19, 20, 500])] == [3, 19]


def test_truncated_video_keeps_the_frames_that_exist(make_video) -> None:
    path = make_video(frames=120, gop=10)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    try:
        table = probe_video(path)
    except InputError:
        return  # the container index was cut away: a clean, named error is right too
    frames = list(read_frames(table, even_frame_indices(table.num_frames, 8)))
    assert frames, "a half-kept video still has frames"
    assert all(read_index(f.image) == f.index for f in frames)


@pytest.mark.parametrize(
    ("content", "reason"),
    [(b"", "empty"), (b"this is plain text, not a video\n" * 20, "not a readable video")],
)
def test_bad_files_raise_one_line_input_errors(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "bad.mp4"
    path.write_bytes(content)
    with pytest.raises(InputError, match=reason) as caught:
        probe_video(path)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found"):
        probe_video(tmp_path / "nowhere.mp4")


def test_image_file_is_not_taken_for_a_video(samples: Path) -> None:
    # A still image opens as a one-frame "video" in FFmpeg; it must not crash the reader.
    try:
        table = probe_video(samples / "images/single_face.jpg")
    except (InputError, DecodeError):
        return
    assert table.num_frames == 1
    assert len(list(read_frames(table, [0]))) == 1
