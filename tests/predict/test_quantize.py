"""fakescan.predict.quantize, ``export --int8-calibration`` and ``predict --precision int8``, on real
sample-media face crops (``crops_dir``: val crops calibrate, train and test crops compare)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from fakescan.cli import app
from fakescan.data.datasets.index import read_crop_table
from fakescan.data.images import read_image
from fakescan.errors import ConfigError, InputError
from fakescan.predict import load_predictor
from fakescan.predict.export import export_onnx
from fakescan.predict.quantize import calibration_crops, quantize_onnx
from tests.predict import make_checkpoint
from tests.train.crops import SIZE

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")


def invoke(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args])


def error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("error:")]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained cnn exported to float32 ONNX (training one here took 90 s on the shared CPU;
    ``benchmarks/bench_precision.py`` measures trained ones)."""
    folder = tmp_path_factory.mktemp("int8")
    return export_onnx(make_checkpoint(folder, "cnn", image_size=SIZE), folder / "model.onnx").onnx_path


def test_int8_scores_follow_float32_on_crops_it_was_not_calibrated_on(
    exported: Path, crops_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "model.int8.onnx"
    result = quantize_onnx(exported, crops_dir, out=out)
    val = [r for r in read_crop_table(crops_dir / "crops.csv") if r.split == "val"]
    assert result.crops == len(val) == len(calibration_crops(crops_dir)) > 0
    sidecar = json.loads(out.with_suffix(".json").read_text())
    assert sidecar["onnx"]["precision"] == "int8" and sidecar["onnx"]["quantization"]["crops"] == len(val)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.int8.json", "model.int8.onnx"]

    fp32 = load_predictor(exported, backend="onnx")
    int8 = load_predictor(out, backend="onnx")  # the file says int8
    assert fp32.scorer.precision == "fp32" and int8.scorer.precision == "int8"
    assert int8.threshold == fp32.threshold and int8.input_cfg == fp32.input_cfg
    others = [r for r in read_crop_table(crops_dir / "crops.csv") if r.split in ("train", "test")]
    images = torch.stack([fp32.transform(read_image(crops_dir / r.crop)).image for r in others])
    p32, p8 = fp32.scorer(images), int8.scorer(images)
    # Measured on these 112 crops: max |Δp| 4.2e-5 while the fp32 scores spread over 1.1e-3, and a
    # correlation of 0.997: int8 keeps the order of the scores, not just their level.
    assert np.abs(p8 - p32).max() <= 2e-4
    assert np.abs(p8 - p32).max() <= 0.1 * np.ptp(p32)
    assert np.corrcoef(p32, p8)[0, 1] >= 0.99
    with pytest.raises(ConfigError, match="already an int8 model"):
        quantize_onnx(out, crops_dir, out=tmp_path / "twice.onnx")


def test_a_failed_quantization_leaves_no_file(
    exported: Path, crops_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import onnxruntime.quantization

    def fail(*args: object, **kwargs: object) -> None:
        raise RuntimeError("calibration ran out of memory\nsecond line")

    monkeypatch.setattr(onnxruntime.quantization, "quantize_static", fail)
    out = tmp_path / "model.int8.onnx"
    with pytest.raises(ConfigError, match=r"cannot quantize .*: calibration ran out of memory$"):
        quantize_onnx(exported, crops_dir, out=out)
    assert list(tmp_path.iterdir()) == []


def test_calibration_refuses_folders_without_validation_crops(crops_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="must be a folder of validation crops"):
        calibration_crops(tmp_path / "missing")
    with pytest.raises(InputError, match=r"no crops\.csv and no face crop images"):
        calibration_crops(tmp_path)
    table = tmp_path / "crops.csv"
    rows = (crops_dir / "crops.csv").read_text().splitlines()
    table.write_text("\n".join([rows[0], *(row for row in rows[1:] if ",val," not in row)]) + "\n")
    with pytest.raises(InputError, match="no crops of the val split"):
        calibration_crops(tmp_path)
    assert len(calibration_crops(crops_dir, limit=5)) == 5


def test_export_and_predict_int8_from_the_cli(samples: Path, crops_dir: Path, tmp_path: Path) -> None:
    checkpoint = make_checkpoint(tmp_path, "cnn", image_size=SIZE)
    out = tmp_path / "onnx" / "model.onnx"
    no_crops = invoke("export", checkpoint, "--onnx", out, "--int8-calibration", tmp_path / "onnx")
    assert no_crops.exit_code != 0 and len(error_lines(no_crops.stderr)) == 1
    assert not out.exists()

    done = invoke(
        "export", checkpoint, "--onnx", out, "--int8-calibration", crops_dir, "--calibration-crops", 8
    )
    assert done.exit_code == 0, done.output
    assert "model.int8.onnx" in done.stderr and "calibrated on 8 crops" in done.stderr
    int8 = out.with_name("model.int8.onnx")
    image = samples / "images/obama.jpg"
    ran = invoke("predict", image, "--model", int8, "--backend", "onnx", "--precision", "int8", "--json", "-")
    assert ran.exit_code == 0, ran.output
    assert json.loads(ran.stdout)["results"][0]["verdict"] in ("fake", "real")

    fp32_as_int8 = invoke("predict", image, "--model", out, "--backend", "onnx", "--precision", "int8")
    assert fp32_as_int8.exit_code == 1
    assert error_lines(fp32_as_int8.stderr) == [
        f"error: --precision int8: {out} is a float32 model: write one with `fakescan export"
        " CHECKPOINT --onnx MODEL.onnx --int8-calibration VAL_CROPS`, then predict --backend onnx"
        " --model MODEL.int8.onnx"
    ]
    torch_int8 = invoke("predict", image, "--model", checkpoint, "--precision", "int8")
    assert torch_int8.exit_code == 2 and "--backend onnx" in torch_int8.stderr
