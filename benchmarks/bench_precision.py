"""AUC cost of ``fakescan predict --precision bf16`` on a small validation set.

A ``cnn`` is trained (8 epochs, per seed) on the real and manipulated sample-media crops of the
training tests (:func:`tests.train.crops.build_crops_dir`: validation and test hold out people
unseen in training); its checkpoint is loaded as ``predict`` loads it, once in float32 and once with
``precision="bf16"`` (bfloat16 ``torch.autocast``), and both score the validation and test crops.
Reported per seed: AUC in fp32, AUC in bf16, the AUC cost (fp32 − bf16) and the largest
probability difference. A toy model on a toy set (a few dozen crops): it says whether bf16 moves
the ranking of a trained detector's scores, not what it costs an Xception on FF++.

Run from the repository root (about 2 minutes on 2 cores)::

    .venv/bin/python benchmarks/bench_precision.py --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=8)
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
    from fakescan.train.config import load_config
    from fakescan.train.engine import fit, load_training_data

    work = Path(tempfile.mkdtemp(prefix="bench-precision-"))
    crops = build_crops_dir(fetch_samples(), work / "crops")
    data = load_training_data(crops, crops)

    held_out = [r for r in read_crop_table(crops / "crops.csv") if r.split in ("val", "test")]
    labels = np.array([r.label for r in held_out])
    print(f"{len(data.train)} training crops, {len(held_out)} held-out crops (val + test)")
    print("| seed | AUC fp32 | AUC bf16 | AUC cost | max abs. prob. diff |")
    print("|---:|---:|---:|---:|---:|")
    costs = []
    for seed in args.seeds:
        config = load_config(
            overrides={
                "model": "cnn",
                "epochs": args.epochs,
                "early_stopping": 0,
                "seed": seed,
                "optim": {"lr": 3e-3, "scheduler": "none"},
                "data": {"image_size": SIZE, "batch_size": 16, "workers": 0},
            }
        )
        fit(config, data, work / f"run{seed}")
        probs = {}
        for precision in ("fp32", "bf16"):
            predictor = load_predictor(work / f"run{seed}/best", precision=precision)
            batch = torch.stack([predictor.transform(read_image(crops / r.crop)).image for r in held_out])
            probs[precision] = np.asarray(predictor.scorer(batch), dtype=np.float64)
        auc = {p: roc_auc_score(labels, v) for p, v in probs.items()}
        costs.append(auc["fp32"] - auc["bf16"])
        gap = np.abs(probs["fp32"] - probs["bf16"]).max()
        print(
            f"| {seed} | {auc['fp32']:.4f} | {auc['bf16']:.4f} | {costs[-1]:+.4f} | {gap:.1e} |", flush=True
        )
    print(f"AUC cost over {len(costs)} seeds: {np.mean(costs):+.4f} ± {np.std(costs, ddof=1):.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
