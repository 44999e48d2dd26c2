"""AUC cost and speed-up of reduced precision in ``fakescan predict``: ``--precision bf16`` (torch)
and ``--precision int8`` (an ONNX model quantized by ``fakescan export --int8-calibration``).

AUC cost: a ``cnn`` is trained (``--epochs``, per seed) on the real and manipulated sample-media
crops of the training tests (:func:`tests.train.crops.build_crops_dir`: validation and test hold out
people unseen in training). For ``bf16``, its checkpoint is loaded as ``predict`` loads it, once in
float32 and once with ``precision="bf16"`` (bfloat16 ``torch.autocast``). For ``int8``, it is
exported to ONNX (float32) and quantized (:func:`fakescan.predict.quantize.quantize_onnx`,
calibrated on the validation crops: activation ranges only, no label is read), and the float32 and
int8 ONNX models are compared. Each pair scores the validation and test crops. Reported per seed:
AUC of the reference, AUC of the reduced precision, the cost (reference − reduced) and the largest
probability difference. A toy model on a toy set (a few dozen crops): it says whether the reduced
precision moves the ranking of a trained detector's scores, not what it costs an Xception on FF++.

Speed (``--speed``): an untrained ``--speed-model`` (Xception) at ``--speed-size`` px, model
alone, a batch of ``--speed-batch`` random images, best of 3: float32 ONNX Runtime against the int8
model quantized from it (calibrated on the sample crops resized to that size).

Run from the repository root (a few minutes on 2 cores)::

    .venv/bin/python benchmarks/bench_precision.py --seeds 0 1 2 --precisions bf16 int8 --speed
    .venv/bin/python benchmarks/bench_precision.py --seeds 0 1 2 --precisions int8 --epochs 1
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PRECISIONS = ("bf16", "int8")


def _speed(args: argparse.Namespace, crops: Path, work: Path) -> None:
    """Print images/s of float32 ONNX and int8 ONNX on one model, and the speed-up."""
    import numpy as np
    import torch
    from tests.predict import make_checkpoint

    from fakescan.predict import load_predictor
    from fakescan.predict.export import export_onnx
    from fakescan.predict.quantize import quantize_onnx

    folder = work / "speed"
    folder.mkdir()
    stem = make_checkpoint(folder, args.speed_model, image_size=args.speed_size)
    fp32_path = export_onnx(stem, folder / "model.onnx").onnx_path
    started = time.perf_counter()
    int8_path = quantize_onnx(fp32_path, crops).onnx_path
    quantize_s = time.perf_counter() - started
    images = torch.rand(
        args.speed_batch, 3, args.speed_size, args.speed_size, generator=torch.Generator().manual_seed(0)
    )
    images = images * 2 - 1
    rates, logits = {}, {}
    for name, path in (("fp32", fp32_path), ("int8", int8_path)):
        scorer = load_predictor(path, backend="onnx").scorer
        logits[name] = scorer.logits(images)  # warm-up
        best = min(_timed(scorer.logits, images) for _ in range(3))
        rates[name] = args.speed_batch / best
    gap = float(np.abs(logits["fp32"] - logits["int8"]).max())
    print(
        f"speed, {args.speed_model} {args.speed_size} px, batch {args.speed_batch}, best of 3, "
        f"load average {os.getloadavg()[0]:.1f}: fp32 ONNX {rates['fp32']:.1f} images/s, int8 ONNX"
        f" {rates['int8']:.1f} images/s ({rates['int8'] / rates['fp32']:.2f}×); max |Δlogit| {gap:.1e}"
        f" (untrained model); quantization took {quantize_s:.0f} s",
        flush=True,
    )


def _timed(function, argument) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    function(argument)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--precisions", nargs="+", choices=PRECISIONS, default=list(PRECISIONS))
    parser.add_argument("--speed", action="store_true", help="also time fp32 against int8 ONNX")
    parser.add_argument("--speed-model", default="xception")
    parser.add_argument("--speed-size", type=int, default=256)
    parser.add_argument("--speed-batch", type=int, default=32)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))
    import numpy as np
    import torch
    from sklearn.metrics import roc_auc_score
    from tests.train.crops import SIZE, build_crops_dir

    from fakescan.data.datasets.index import read_crop_table
    from fakescan.data.images import read_image
    from fakescan.data.samples import fetch_samples
    from fakescan.predict import load_predictor
    from fakescan.predict.export import export_onnx
    from fakescan.predict.quantize import quantize_onnx
    from fakescan.train.config import load_config
    from fakescan.train.engine import fit, load_training_data

    work = Path(tempfile.mkdtemp(prefix="bench-precision-"))
    crops = build_crops_dir(fetch_samples(), work / "crops")
    data = load_training_data(crops, crops)
    if args.speed:
        _speed(args, crops, work)

    held_out = [r for r in read_crop_table(crops / "crops.csv") if r.split in ("val", "test")]
    labels = np.array([r.label for r in held_out])
    print(f"{len(data.train)} training crops, {len(held_out)} held-out crops (val + test)")
    print("| seed | precision | AUC reference | AUC reduced | AUC cost | max abs. prob. diff |")
    print("|---:|---|---:|---:|---:|---:|")
    costs: dict[str, list[float]] = {p: [] for p in args.precisions}
    for seed in args.seeds:
        config = load_config(
            overrides={
                "model": "cnn",
                "epochs": args.epochs,
                "early_stopping": 0,
                "seed": seed,
                "optim": {"lr": 3e-3, "scheduler": "none"},
                # plain training, as measured (train's default now adds self-blends)
                "data": {"image_size": SIZE, "batch_size": 16, "workers": 0, "pseudo_fakes": "none"},
            }
        )
        run = work / f"run{seed}"
        fit(config, data, run)
        pairs = {}
        if "bf16" in args.precisions:
            pairs["bf16"] = (
                ("fp32 torch", load_predictor(run / "best", precision="fp32")),
                ("bf16 torch", load_predictor(run / "best", precision="bf16")),
            )
        if "int8" in args.precisions:
            fp32_onnx = export_onnx(run / "best", run / "model.onnx").onnx_path
            int8_onnx = quantize_onnx(fp32_onnx, crops).onnx_path
            pairs["int8"] = (
                ("fp32 ONNX", load_predictor(fp32_onnx, backend="onnx")),
                ("int8 ONNX", load_predictor(int8_onnx, backend="onnx", precision="int8")),
            )
        for precision, ((_, reference), (_, reduced)) in pairs.items():
            batch = torch.stack([reference.transform(read_image(crops / r.crop)).image for r in held_out])
            p_ref = np.asarray(reference.scorer(batch), dtype=np.float64)
            p_red = np.asarray(reduced.scorer(batch), dtype=np.float64)
            auc_ref, auc_red = roc_auc_score(labels, p_ref), roc_auc_score(labels, p_red)
            costs[precision].append(auc_ref - auc_red)
            gap = np.abs(p_ref - p_red).max()
            print(
                f"| {seed} | {precision} | {auc_ref:.4f} | {auc_red:.4f} | {costs[precision][-1]:+.4f} |"
                f" {gap:.1e} |",
                flush=True,
            )
    for precision, values in costs.items():
        sd = np.std(values, ddof=1) if len(values) > 1 else 0.0
        print(f"{precision}: AUC cost over {len(values)} seeds: {np.mean(values):+.4f} ± {sd:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
