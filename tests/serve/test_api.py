"""The REST API under FastAPI's TestClient, on the real sample media, with one worker process."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from fakescan.data.extract import ExtractConfig
from fakescan.errors import ConfigError
from fakescan.predict import PredictConfig, load_predictor, run_prediction
from fakescan.serve import ServeSettings, resolve_models
from tests.serve.conftest import AUTH, TOKEN, UPLOAD_LIMIT, wait_for


def post(client: TestClient, path: Path | None, name: str | None = None, data: bytes | None = None, **fields):
    content = path.read_bytes() if data is None else data
    files = {"file": (name or (path.name if path else "upload.bin"), content, "application/octet-stream")}
    return client.post("/api/v1/jobs", files=files, data={k: str(v) for k, v in fields.items()}, headers=AUTH)


def job_folders(client: TestClient) -> set[str]:
    store = client.app.state.store  # type: ignore[attr-defined]
    return {p.name for p in store.jobs_dir.iterdir()}


def predicted(path: Path, checkpoint: Path, frames: int) -> dict:
    """What `fakescan predict --frames N --json` says about the file."""
    config = PredictConfig(extract=ExtractConfig(frames=frames))
    return run_prediction([path], load_predictor(checkpoint), config).to_dict()


def same_as_predict(result: dict, expected: dict) -> None:
    for key in ("model", "backend", "threshold", "aggregate"):
        assert result[key] == expected[key]
    got, want = result["results"][0], expected["results"][0]
    assert set(got) == set(want)
    for key in ("kind", "verdict", "frames_read", "frames_used", "faces_found", "threshold", "reason"):
        assert got[key] == want[key], key
    assert got["score"] == pytest.approx(want["score"], abs=1e-6)
    assert [f["index"] for f in got["frames"]] == [f["index"] for f in want["frames"]]
    assert [f["box"] for f in got["frames"]] == [f["box"] for f in want["frames"]]
    assert np.allclose([f["probability"] for f in got["frames"]], [f["probability"] for f in want["frames"]])


def test_video_job_gives_the_predict_result_and_evidence(
    client: TestClient, samples: Path, serve_checkpoint: Path
) -> None:
    video = samples / "videos/single_face.mp4"
    answer = post(client, video, model="tiny", frames=4)
    assert answer.status_code == 202, answer.text
    job_id = answer.json()["id"]
    assert uuid.UUID(job_id).version == 4 and answer.headers["location"] == f"/api/v1/jobs/{job_id}"
    job = wait_for(client, job_id)
    assert job["status"] == "done" and job["progress"] == 1.0 and job["kind"] == "video", job
    same_as_predict(job["result"], predicted(video, serve_checkpoint, 4))
    result = job["result"]["results"][0]
    assert result["path"] == "single_face.mp4" and result["verdict"] in ("fake", "real")
    assert [f["index"] for f in result["frames"]] == [9, 27, 45, 63]
    names = set(job["artifacts"])
    for index in (9, 27, 45, 63):
        assert {f"frame-{index}.jpg", f"frame-{index}-heatmap.png", f"frame-{index}-crop.png"} <= names
    assert {"timeline.png", "gradcam.png", "spectrum.png", "annotated.mp4"} <= names
    assert set(result["explanations"]) <= names
    heat = client.get(job["artifacts"]["frame-9-heatmap.png"], headers=AUTH)
    assert heat.status_code == 200 and heat.headers["content-type"] == "image/png"
    assert heat.content.startswith(b"\x89PNG")
    import cv2

    picture = cv2.imdecode(np.frombuffer(heat.content, np.uint8), cv2.IMREAD_COLOR)
    # a heat map over the face crop (cut at the extraction size, 256 px), not a blank
    assert picture.shape == (256, 256, 3) and picture.std() > 5
    assert not (client.app.state.store.upload_path(job_id)).exists()  # type: ignore[attr-defined]


def test_image_job_and_the_model_list(client: TestClient, samples: Path, serve_checkpoint: Path) -> None:
    models = client.get("/api/v1/models", headers=AUTH).json()
    assert models["default"] == "tiny"
    assert models["models"][0] | {} == {
        "name": "tiny", "model": "cnn", "backend": "torch", "threshold": 0.3, "image_size": 64,
        "explanations": True, "detector": "blazeface-full", "crop_size": 256, "margin": 1.3,  # defaults
    }  # fmt: skip
    photo = samples / "images/obama.jpg"
    job = wait_for(client, post(client, photo, name="photo.bin").json()["id"])  # the name says nothing
    assert job["status"] == "done" and job["kind"] == "image"
    same_as_predict(job["result"], predicted(photo, serve_checkpoint, 32))
    assert {"frame-0.jpg", "frame-0-heatmap.png", "frame-0-spectrum.png"} <= set(job["artifacts"])
    assert "timeline.png" not in job["artifacts"]


def test_a_group_photo_gets_every_face_as_predict_gives_them(
    client: TestClient, samples: Path, serve_checkpoint: Path
) -> None:
    photo = samples / "images/multi_face.jpg"
    job = wait_for(client, post(client, photo).json()["id"])
    assert job["status"] == "done"
    expected = predicted(photo, serve_checkpoint, 32)
    same_as_predict(job["result"], expected)
    result = job["result"]["results"][0]
    assert result["all_faces"] and len(result["people"]) == len(result["frames"][0]["faces"]) == 5
    assert [q["score"] for q in result["people"]] == pytest.approx(
        [q["score"] for q in expected["results"][0]["people"]], abs=1e-6
    )
    assert result["score"] == max(q["score"] for q in result["people"])
    assert "faces.png" in job["artifacts"]


def test_no_face_is_a_failed_job_with_the_reason_and_the_frames(client: TestClient, samples: Path) -> None:
    job = wait_for(client, post(client, samples / "negatives/no_face.mp4", frames=2).json()["id"])
    assert job["status"] == "failed" and "no face found" in job["error"] and "no_face.mp4" in job["error"]
    result = job["result"]["results"][0]
    assert result["verdict"] == "no_face" and result["score"] is None and result["frames_read"] == 2
    assert not any("heatmap" in name for name in job["artifacts"])


def test_bad_uploads_get_one_clear_error_and_leave_nothing(client: TestClient, samples: Path) -> None:
    before = job_folders(client)
    truncated = (samples / "videos/single_face.mp4").read_bytes()[:3000]
    cases = [
        (post(client, None, "cut.mp4", truncated), 415, "cut.mp4: not a readable video or image"),
        (post(client, None, "notes.mp4", b"just some text\n" * 50), 415, "notes.mp4: not a readable"),
        (post(client, None, "empty.jpg", b""), 400, "empty.jpg: file is empty"),
        (post(client, None, "big.mp4", b"\0" * (UPLOAD_LIMIT + 1)), 413, "larger than the upload limit"),
        (post(client, samples / "images/obama.jpg", model="nope"), 400, "unknown model 'nope'"),
        (post(client, samples / "images/obama.jpg", frames=0), 400, "frames must be a whole number"),
        (client.post("/api/v1/jobs", content=b"x", headers=AUTH), 415, "multipart/form-data"),
        (client.post("/api/v1/jobs", data={"frames": "2"}, files={"other": ("a.jpg", b"x")}, headers=AUTH),
         400, "no file in the form field 'file'"),
        (client.post("/api/v1/jobs", files=[("file", ("a.jpg", b"x")), ("file", ("b.jpg", b"y"))],
                     headers=AUTH), 400, "exactly one file"),
    ]  # fmt: skip
    for response, status, message in cases:
        assert response.status_code == status, response.text
        assert message in response.json()["detail"]
    huge = client.post(
        "/api/v1/jobs", headers={**AUTH, "content-length": str(10**9), "content-type": "multipart/form-data"}
    )
    assert huge.status_code == 413
    assert job_folders(client) == before


def test_the_token_is_needed_on_every_api_call(client: TestClient) -> None:
    some = f"/api/v1/jobs/{uuid.uuid4()}"
    for method, path in (
        ("get", "/api/v1/models"),
        ("get", some),
        ("delete", some),
        ("post", "/api/v1/jobs"),
    ):
        for headers in ({}, {"Authorization": "Bearer wrong-token-0123456789"}, {"Authorization": TOKEN}):
            response = client.request(method, path, headers=headers)
            assert response.status_code == 401, (method, path, headers)
            assert response.headers["www-authenticate"] == "Bearer"
    assert client.get("/healthz").status_code == 200
    assert "access-control-allow-origin" not in client.get("/api/v1/models", headers=AUTH).headers


def test_unknown_jobs_and_traversal_attempts_are_404(client: TestClient, samples: Path) -> None:
    for job_id in (str(uuid.uuid4()), "not-a-uuid", str(uuid.uuid1()), "..", "%2e%2e"):
        assert client.get(f"/api/v1/jobs/{job_id}", headers=AUTH).status_code == 404
    job = wait_for(client, post(client, samples / "images/obama.jpg", frames=1).json()["id"])
    base = f"/api/v1/jobs/{job['id']}/artifacts/"
    assert client.get(base + "frame-0.jpg", headers=AUTH).status_code == 200
    attempts = [
        "../../jobs.sqlite3", "..%2F..%2Fjobs.sqlite3", "%2e%2e%2f%2e%2e%2fjobs.sqlite3",
        "..%252Fjobs.sqlite3",
        "%2Fetc%2Fpasswd", "/etc/passwd", "..\\..\\jobs.sqlite3", "upload.bin", "frame-0.jpg%00.png", "",
        "frame-1.jpg",
    ]  # fmt: skip
    for name in attempts:
        response = client.get(base + name, headers=AUTH)
        assert response.status_code in (404, 405), (name, response.status_code)
        assert b"SQLite format" not in response.content and b"root:" not in response.content


def test_delete_removes_the_job_and_its_files(client: TestClient, samples: Path) -> None:
    job = wait_for(client, post(client, samples / "images/obama.jpg", frames=1).json()["id"])
    assert job["id"] in job_folders(client)
    assert client.delete(f"/api/v1/jobs/{job['id']}", headers=AUTH).status_code == 204
    assert client.get(f"/api/v1/jobs/{job['id']}", headers=AUTH).status_code == 404
    assert job["id"] not in job_folders(client)
    assert client.delete(f"/api/v1/jobs/{job['id']}", headers=AUTH).status_code == 404


def test_a_full_queue_answers_429_with_retry_after(client: TestClient, samples: Path) -> None:
    video = samples / "videos/WolfgangLanger_Pexels.mp4"
    first = post(client, video, frames=48)  # runs (one worker) ...
    second = post(client, video, frames=2)  # ... waits (queue of one) ...
    third = post(client, video, frames=2)  # ... no room
    assert first.status_code == second.status_code == 202
    assert third.status_code == 429 and int(third.headers["retry-after"]) >= 1
    assert "queue is full" in third.json()["detail"]
    for answer in (first, second):
        assert wait_for(client, answer.json()["id"])["status"] == "done"
    assert client.get("/healthz").json() | {} == {"status": "ok", "queued": 0, "running": 0, "workers": 1}


def test_concurrent_clients_retrying_on_429_all_get_their_result(
    client: TestClient, samples: Path, serve_checkpoint: Path
) -> None:
    import time
    from concurrent.futures import ThreadPoolExecutor

    files = [
        samples / "images/obama.jpg",
        samples / "images/biden.jpg",
        samples / "videos/single_face.mp4",
    ] * 2
    refused: list[int] = []

    def one(path: Path) -> dict:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            answer = post(client, path, frames=2)
            if answer.status_code == 202:
                return wait_for(client, answer.json()["id"])
            assert answer.status_code == 429, answer.text
            refused.append(int(answer.headers["retry-after"]))
            time.sleep(0.3)
        raise AssertionError("no place in the queue within 120 s")

    with ThreadPoolExecutor(len(files)) as pool:
        jobs = list(pool.map(one, files))
    assert refused and min(refused) >= 1  # one worker and a queue of one: most were refused at first
    assert len({job["id"] for job in jobs}) == len(files)
    for path in files[:3]:
        want = predicted(path, serve_checkpoint, 2)
        for job in (j for j, f in zip(jobs, files, strict=True) if f == path):
            assert job["status"] == "done"
            same_as_predict(job["result"], want)


def test_binding_beyond_loopback_needs_a_token_or_no_auth(serve_checkpoint: Path, tmp_path: Path) -> None:
    models = tuple(resolve_models([serve_checkpoint]))
    with pytest.raises(ConfigError, match="--token"):
        ServeSettings(models=models, data_dir=tmp_path, host="0.0.0.0")
    assert ServeSettings(models=models, data_dir=tmp_path, host="0.0.0.0", token="long-enough").token
    assert ServeSettings(models=models, data_dir=tmp_path, host="0.0.0.0", no_auth=True).no_auth
    with pytest.raises(ConfigError, match="at least 8"):
        ServeSettings(models=models, data_dir=tmp_path, token="short")


def test_cli_refuses_an_open_host_without_a_token_and_a_missing_model(
    serve_checkpoint: Path, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from fakescan.cli import app

    runner = CliRunner()
    args = ["serve", "--model", str(serve_checkpoint), "--data-dir", str(tmp_path / "d")]
    done = runner.invoke(app, [*args, "--host", "0.0.0.0"])
    assert done.exit_code == 1 and "give --token T" in done.stderr
    missing = runner.invoke(
        app, [*args[:1], "--model", str(tmp_path / "nothing"), *args[3:], "--workers", "1"]
    )
    assert missing.exit_code == 1
    lines = [line for line in missing.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "nothing" in lines[0] and "not found" in lines[0], missing.stderr
