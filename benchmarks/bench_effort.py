"""Benchmark of the Effort detector (CLIP ViT-L/14 at 224 px) on the CPU.

The model is built from its configuration with random weights (``create("effort",
decompose=False)``, factors then filled with random values): nothing is downloaded, and the speed
of dense float arithmetic does not depend on the values. Measured, in one process:

* ``eval forward``: ``model(x)`` in eval mode under ``torch.inference_mode``, batch ``--batch``;
* ``train step``: forward with the auxiliary outputs (which include the orthogonality and
  singular-value losses), :func:`fakescan.train.losses.detector_loss`, backward, and an Adam step
  over the trainable parameters only (the rank-1 residuals and the head), half the batch fake;
* ``SVD split``: the time to decompose one 1024×1024 attention weight (``torch.linalg.svd``,
  median of 3), times the 96 such weights of ViT-L/14: what building from a CLIP folder
  (``--backbone-weights``) adds.

Throughput is the best of ``--repeat`` timed calls after one warm-up call. ViT-L/14 is large
(about 80 GFLOPs an image): expect well under 10 images per second on a few CPU cores.

Run it from the repository root (a few minutes on 2 cores)::

    .venv/bin/python benchmarks/bench_effort.py           # print the results as Markdown
    .venv/bin/python benchmarks/bench_effort.py --write   # and update its section of BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from _report import cpu_model, publish, usable_cores

REPO = Path(__file__).resolve().parent.parent
BENCHMARKS_MD = REPO / "BENCHMARKS.md"
SECTION_START = "<!-- bench_effort:start -->"
SECTION_END = "<!-- bench_effort:end -->"
SPLIT_WEIGHTS = 24 * 4  # q, k, v, out of each of ViT-L/14's 24 layers


def _peak_rss_gb() -> float:
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 1e9


def _best(step: Callable[[], None], repeat: int) -> float:
    step()
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        step()
        best = min(best, time.perf_counter() - started)
    return best


def measure(batch: int, repeat: int) -> dict[str, float]:
    import torch

    from fakescan.models import create
    from fakescan.models.effort import SVDResidualLinear
    from fakescan.train.losses import detector_loss

    torch.manual_seed(0)
    started = time.perf_counter()
    model = create("effort", num_classes=1, decompose=False)
    build = time.perf_counter() - started
    with torch.no_grad():
        for layer in model.modules():
            if isinstance(layer, SVDResidualLinear):
                for factor in (layer.weight_main, layer.U_residual, layer.S_residual, layer.V_residual):
                    factor.normal_(0.0, 0.02)
    size = model.input_cfg.image_size
    images = torch.randn(batch, 3, size, size)
    labels = torch.arange(batch) % 2
    params = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)

    model.eval()

    def forward() -> None:
        with torch.inference_mode():
            model(images)

    eval_s = _best(forward, repeat)
    eval_rss = _peak_rss_gb()

    model.train()
    optimiser = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=2e-4)

    def train_step() -> None:
        output = model(images, return_aux=True)
        loss, _ = detector_loss(output, images, labels)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()

    train_s = _best(train_step, repeat)
    weight = torch.randn(1024, 1024)
    svd = []
    for _ in range(3):
        started = time.perf_counter()
        torch.linalg.svd(weight, full_matrices=False)
        svd.append(time.perf_counter() - started)
    return {
        "size": size,
        "batch": batch,
        "params": params,
        "trainable": trainable,
        "build_s": build,
        "eval_img_s": batch / eval_s,
        "train_img_s": batch / train_s,
        "eval_rss_gb": eval_rss,
        "train_rss_gb": _peak_rss_gb(),
        "svd_s": statistics.median(svd),
    }


def render(result: dict[str, float], when: str, machine: str, repeat: int) -> str:
    split = f"{result['svd_s'] * SPLIT_WEIGHTS:.0f} ({result['svd_s']:.2f} × {SPLIT_WEIGHTS})"
    rss = f"{result['eval_rss_gb']:.2f} / {result['train_rss_gb']:.2f}"
    return f"""{SECTION_START}
## Effort (CLIP ViT-L/14): CPU throughput

What: images per second of the `effort` model (CLIP ViT-L/14 vision tower with SVD-split attention,
{result["params"]:,} parameters of which {result["trainable"]:,} train) at {result["size"]} px, batch
{result["batch"]}: eval-mode forward, and a training step (forward with the orthogonality and
singular-value losses, backward, Adam over the trainable residuals and head). Built from its
configuration with random weights (no download; speed does not depend on the values). Best of
{repeat} timed calls after a warm-up call. Also the SVD split that building from a CLIP folder
(`--backbone-weights`) adds: one 1024×1024 weight (median of 3) × {SPLIT_WEIGHTS}.

How: `.venv/bin/python benchmarks/bench_effort.py --write`.

Machine and date: {when}. {machine}.

| eval forward, img/s | train step, img/s | peak RSS eval / train, GB | build (no SVD), s | SVD split, s |
|---:|---:|---:|---:|---:|
| {result["eval_img_s"]:.2f} | {result["train_img_s"]:.2f} | {rss} | {result["build_s"]:.1f} | {split} |

ViT-L/14 is slow on a CPU (about 80 GFLOPs an image): use a GPU for training, and expect
`fakescan predict` with an Effort checkpoint to take seconds per frame here. A checkpoint
(trained or imported) records `decompose: false`, so loading it skips the SVD split. GPU figures:
not measured (no GPU was lent to this session). This run shared its cores with other jobs, so the
figures are lower bounds; re-run on a quiet machine before comparing.
{SECTION_END}
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="update the section in BENCHMARKS.md")
    args = parser.parse_args()

    import torch

    when = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    result = measure(args.batch, args.repeat)
    machine = (
        f"CPU: {cpu_model()}, {usable_cores()} cores available, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}; no GPU"
    )
    publish(render(result, when, machine, args.repeat), BENCHMARKS_MD, args.write, SECTION_START, SECTION_END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
