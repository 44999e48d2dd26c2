"""Benchmark of generalisation: does a detector catch forgery methods it was never shown?

For every model (``--models``; default cnn, xception, attention_net, mdcsd, and efficientnet_b4 when
the registry has it) and every recipe (``--recipes``):

* ``plain`` — train on the real clips and the fakes of *one* forgery method, test on the held-out
  people's fakes of every method (the one seen, and the unseen others);
* ``plain+sbi`` — the same, with one Self-Blended Image of every real training crop added
  (``data.pseudo_fakes: sbi``; Shiohara & Yamasaki, CVPR 2022);
* ``sbi-only`` — train on the real clips alone plus their self-blends (the model never sees a fake
  of any method), test on every method: every method is unseen.

The forgeries are the synthetic families of :mod:`fakescan.synth` (``--methods``; default all five:
FaceSwap-lite, Resynth, MouthWarp, Checkerboard, ColourBlend), made of every sample video and photo
that ships (:func:`fakescan.synth.build.every_sample_source`, twelve people, with
:data:`~fakescan.synth.build.SAME_PEOPLE` keeping one person to one split). For each seed
(``--seeds``, at least three), the data set is built with that seed — so each seed holds out other
people: ``--held-out`` (3) for validation and as many for test — and every training uses it too.
Splits go through the project's leakage guards: :func:`~fakescan.data.datasets.index_ffpp` (no video
in two splits), :func:`~fakescan.train.engine.load_training_data` (no test crops in training or
checkpoint selection), :func:`~fakescan.evaluate.runner.run_test` (no test video the checkpoint was
trained on), and :func:`check_people_apart` here (no person of the test split in the training or
validation split).

Checkpoints are chosen by validation loss on the *seen* method only (``plain``, ``plain+sbi``) or
on self-blends of real clips (``sbi-only``), never on an unseen method. The validation data is, by
default (``--select known-clip``), a held-out clip of the training person with the most clips and
its fakes, and the val people join training: with a dozen people, validating on new people makes
the loss favour the first epoch. ``--select people`` validates on the val split's people instead.
Scores: frame AUC and video AUC (mean of the frame probabilities) of each method's fakes against all
real test clips (the FF++ convention of :func:`~fakescan.evaluate.metrics.per_group_metrics`); a
table cell is the mean ± sample standard deviation over seeds. "Unseen" is, per seed, the mean over
the methods the model did not train on (and, for ``plain``, over the training methods), then mean ±
sd over seeds. The self-blends' masks are the central ellipse unless ``--sbi-mask mesh`` (the hull
of each crop's FaceMesh points, which the extraction's default BlazeFace detector keeps beside the
crops, as the ``sbi-efficientnet_b4`` preset does) or ``--sbi-mask landmarks`` (dlib's 68 points).

Everything goes through the library API: :func:`~fakescan.synth.build_synthetic_ffpp`,
:func:`~fakescan.data.datasets.extraction.extract_dataset`, :func:`~fakescan.train.engine.fit`,
:func:`~fakescan.evaluate.runner.run_test`. Run it from the repository root::

    .venv/bin/python benchmarks/bench_generalisation.py --models cnn --seeds 0 --epochs 2  # a look
    # The CPU table of BENCHMARKS.md: two runs side by side, then one section from both.
    S="--seeds 0,1,2 --clip-frames 16 --batch-size 16 --threads 1"
    .venv/bin/python benchmarks/bench_generalisation.py --models cnn $S --crop-frames 16 \
        --epochs 8 --rows cnn.json
    .venv/bin/python benchmarks/bench_generalisation.py --models xception $S --crop-frames 8 \
        --epochs 4 --train-methods FaceSwap-lite --rows xception.json
    .venv/bin/python benchmarks/bench_generalisation.py --from-rows cnn.json xception.json --write
    # On a GPU, the full sizes:
    .venv/bin/python benchmarks/bench_generalisation.py --device cuda --image-size 380 \\
        --clip-size 256 --clip-frames 32 --crop-frames 32 --epochs 30 --seeds 0,1,2,3,4 --write

The data set is tiny (a dozen people, synthetic forgeries): the numbers compare recipes with each
other on forgeries they did not see, they say nothing about FaceForensics++ or data from the wild.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import math
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from _report import cpu_model, publish, usable_cores

REPO = Path(__file__).resolve().parent.parent
BENCHMARKS_MD = REPO / "BENCHMARKS.md"
START, END = "<!-- bench_generalisation:start -->", "<!-- bench_generalisation:end -->"
RECIPES: tuple[str, ...] = ("plain", "plain+sbi", "sbi-only")
WANTED_MODELS: tuple[str, ...] = ("cnn", "xception", "attention_net", "mdcsd", "efficientnet_b4")
SBI_ONLY = "reals only"
"""What ``sbi-only`` jobs are trained on, in the tables."""


@dataclasses.dataclass(frozen=True)
class Job:
    """One training: ``model`` by ``recipe`` on ``trained_on`` (``None``: reals only), with ``seed``."""

    model: str
    recipe: str
    trained_on: str | None
    seed: int

    def unseen(self, methods: Sequence[str]) -> list[str]:
        """The test methods this job never trained on."""
        return [method for method in methods if method != self.trained_on]


def recipe_label(recipe: str, sbi_mask: str) -> str:
    """The recipe as the table names it: with its mask when the self-blends do not use the ellipse,
    so that runs with other masks get rows of their own.

    >>> recipe_label("sbi-only", "mesh"), recipe_label("sbi-only", "ellipse"), recipe_label("plain", "mesh")
    ('sbi-only, mesh masks', 'sbi-only', 'plain')
    """
    return recipe if recipe == "plain" or sbi_mask == "ellipse" else f"{recipe}, {sbi_mask} masks"


def default_models() -> list[str]:
    """The models of :data:`WANTED_MODELS` that the registry knows (efficientnet_b4 once merged)."""
    from fakescan.models import list_models

    known = set(list_models())
    return [name for name in WANTED_MODELS if name in known]


def plan_jobs(
    models: Sequence[str], recipes: Sequence[str], methods: Sequence[str], seeds: Sequence[int]
) -> list[Job]:
    """Every training of the grid: ``plain`` and ``plain+sbi`` once per training method (``methods``:
    those trained on; every built method is tested), ``sbi-only`` once (on reals only), each for
    every model and seed.

    >>> jobs = plan_jobs(["cnn"], RECIPES, ["A", "B"], [0, 1, 2])
    >>> len(jobs), sorted({job.trained_on or "-" for job in jobs})
    (15, ['-', 'A', 'B'])
    """
    unknown = [recipe for recipe in recipes if recipe not in RECIPES]
    if unknown:
        raise ValueError(f"unknown recipe(s) {unknown}; choose from {', '.join(RECIPES)}")
    jobs = []
    for seed in seeds:
        for model in models:
            for recipe in recipes:
                targets: list[str | None] = [None] if recipe == "sbi-only" else list(methods)
                jobs += [Job(model, recipe, target, seed) for target in targets]
    return jobs


def split_for(job: Job, train: Iterable[Any], val: Iterable[Any]) -> tuple[list[Any], list[Any]]:
    """The training and validation crops of ``job``: the real crops, plus the fakes of the method it
    trains on (none for ``sbi-only``). Other methods never reach training or checkpoint selection."""

    def keep(record: Any) -> bool:
        return record.label == 0 or (job.trained_on is not None and record.method == job.trained_on)

    return [r for r in train if keep(r)], [r for r in val if keep(r)]


def target_clip(video_id: str) -> str:
    """The real clip a video shows: ``…/003`` is clip 003, a fake ``…/003_015`` (clip 003 with
    something of 015's) too.

    >>> target_clip("manipulated_sequences/Resynth/c23/videos/003_015"), target_clip("x/videos/007")
    ('003', '007')
    """
    return Path(video_id).name.split("_")[0]


def known_clip_selection(records: Sequence[Any], clip: str) -> tuple[list[Any], list[Any]]:
    """Train on every crop but those of ``clip`` and its fakes; select checkpoints on those.

    With a dozen people, a validation split of *new* people makes the validation loss favour the
    first epoch (it measures the faces, not the forgery); a held-out clip of a person seen in
    training keeps it in step with training (``tests/synth/test_pseudo_training.py`` found the same).
    The test people stay unseen either way.
    """
    held = [r for r in records if target_clip(r.video_id) == clip]
    return [r for r in records if target_clip(r.video_id) != clip], held


def selection_clip(identities: Mapping[str, str], train_pairs: Sequence[Sequence[str]]) -> str:
    """The last training clip of the training person with the most clips (ties: by name).

    >>> people = {"000": "ann", "001": "bob", "002": "ann", "003": "cy"}
    >>> selection_clip(people, [("000", "001"), ("002", "003")])
    '002'
    """
    clips = sorted({clip for pair in train_pairs for clip in pair})
    counts: dict[str, int] = {}
    for clip in clips:
        counts[identities[clip]] = counts.get(identities[clip], 0) + 1
    person = max(counts, key=lambda name: (counts[name], name))
    return [clip for clip in clips if identities[clip] == person][-1]


def check_people_apart(identities: Mapping[str, str], pairs: Mapping[str, Sequence[Sequence[str]]]) -> None:
    """Raise ``ValueError`` when a person of one split also appears in another.

    ``identities``: real clip id → person; ``pairs``: split → its ``(a, b)`` pairs of clip ids
    (:class:`~fakescan.synth.build.SynthReport`).
    """
    people = {
        split: {identities[clip] for pair in split_pairs for clip in pair}
        for split, split_pairs in pairs.items()
    }
    names = sorted(people)
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            shared = people[first] & people[second]
            if shared:
                raise ValueError(f"{', '.join(sorted(shared))} in both the {first} and the {second} split")


def per_method_auc(frames: Any) -> dict[str, tuple[float, float]]:
    """Method → (frame AUC, video AUC) of its fakes against every real, from a test's frame scores
    (:class:`~fakescan.evaluate.metrics.FrameScores`); video score = mean of its frames."""
    import numpy as np

    from fakescan.evaluate.metrics import binary_metrics, video_scores

    real = frames.labels == 0
    out = {}
    for method in sorted(set(frames.methods[~real].tolist())):
        chosen = real | (frames.methods == method)
        frame = binary_metrics(frames.labels[chosen], frames.scores[chosen])
        videos = video_scores(frames.video_ids[chosen], frames.labels[chosen], frames.scores[chosen])
        video = binary_metrics(videos.labels, videos.scores)
        out[method] = (
            float(frame.auc),
            float(video.auc) if len(np.unique(videos.labels)) == 2 else float("nan"),
        )
    return out


def mean_sd(values: Sequence[float]) -> str:
    """``mean ± sd`` (sample standard deviation) of finite values, ``–`` when there are none.

    >>> mean_sd([0.5, 0.7, 0.9])
    '0.70 ± 0.20'
    """
    finite = [v for v in values if not math.isnan(v)]
    if not finite:
        return "–"
    sd = statistics.stdev(finite) if len(finite) > 1 else 0.0
    return f"{statistics.fmean(finite):.2f} ± {sd:.2f}"


def summarise(rows: Sequence[Mapping[str, Any]], methods: Sequence[str]) -> list[dict[str, Any]]:
    """Per (model, recipe): the seen-method and unseen-method AUCs of each seed, averaged over
    the training methods (and, for unseen, over the methods not trained on).

    ``rows``: one per job, with ``model``, ``recipe``, ``trained_on``, ``seed`` and ``auc`` (method
    → (frame, video)). Returns dicts with ``model``, ``recipe``, and lists over seeds
    ``seen_frame``, ``seen_video``, ``unseen_frame``, ``unseen_video`` (seen lists are empty for
    ``sbi-only``).
    """
    groups: dict[tuple[str, str], dict[int, list[Mapping[str, Any]]]] = {}
    for row in rows:
        groups.setdefault((row["model"], row["recipe"]), {}).setdefault(row["seed"], []).append(row)
    out = []
    for (model, recipe), by_seed in groups.items():
        entry: dict[str, Any] = {"model": model, "recipe": recipe, "unseen_by_seed": {}}
        for key in ("seen_frame", "seen_video", "unseen_frame", "unseen_video"):
            entry[key] = []
        for seed in sorted(by_seed):
            seen: list[tuple[float, float]] = []
            unseen: list[tuple[float, float]] = []
            for row in by_seed[seed]:
                job = Job(model, recipe, row["trained_on"], seed)
                for method in methods:
                    if method in row["auc"]:
                        (unseen if method in job.unseen(methods) else seen).append(tuple(row["auc"][method]))
            if unseen:
                entry["unseen_by_seed"][seed] = statistics.fmean(p[0] for p in unseen)
            for key, pairs in (("seen", seen), ("unseen", unseen)):
                if pairs:
                    entry[f"{key}_frame"].append(statistics.fmean(p[0] for p in pairs))
                    videos = [p[1] for p in pairs if not math.isnan(p[1])]
                    entry[f"{key}_video"].append(statistics.fmean(videos) if videos else float("nan"))
        out.append(entry)
    return out


# --------------------------------------------------------------------------------------------------
# Running


def _build(seed: int, args: argparse.Namespace, work: Path) -> tuple[Path, Any]:
    """Build, index and extract the data set of ``seed``; (crops folder, synth report)."""
    from fakescan.data.datasets import DatasetWarning, index_ffpp
    from fakescan.data.datasets.extraction import extract_dataset
    from fakescan.data.extract import ExtractConfig
    from fakescan.data.samples import fetch_samples
    from fakescan.synth.build import SAME_PEOPLE, build_synthetic_ffpp, every_sample_source

    synth = build_synthetic_ffpp(
        every_sample_source(fetch_samples()),
        work / f"data-{seed}",
        methods=args.methods,
        frames=args.clip_frames,
        size=args.clip_size,
        seed=seed,
        identities=SAME_PEOPLE,
        held_out=args.held_out,
        clips_per_video=args.clips_per_video,
    )
    check_people_apart(synth.identities, synth.pairs)
    records = index_ffpp(synth.root, methods=[synth.folders[m] for m in args.methods])
    crops = work / f"crops-{seed}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DatasetWarning)  # a clip without a face crop is fine here
        extract_dataset(
            records, synth.root, crops, ExtractConfig(frames=args.crop_frames, size=args.image_size)
        )
    return crops, synth


def _run_job(job: Job, crops: Path, synth: Any, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    from fakescan.data.packing import class_names_of
    from fakescan.evaluate.report import read_scores_csv
    from fakescan.evaluate.runner import run_test
    from fakescan.train.config import load_config
    from fakescan.train.engine import fit, load_training_data

    full = load_training_data(crops, crops)
    if args.select == "known-clip":
        clip = selection_clip(synth.identities, synth.pairs["train"])
        pool_train, pool_val = known_clip_selection([*full.train, *full.val], clip)
        pool_val = [dataclasses.replace(r, split="val") for r in pool_val]
        pool_train = [dataclasses.replace(r, split="train") for r in pool_train]
    else:
        pool_train, pool_val = full.train, full.val
    train, val = split_for(job, pool_train, pool_val)
    data = dataclasses.replace(full, train=train, val=val, class_names=class_names_of([*train, *val]))
    overrides = {
        "model": job.model,
        "classes": 2,
        "epochs": args.epochs,
        "early_stopping": 0,
        "seed": job.seed,
        "device": args.device,
        "optim": {"lr": args.lr, "scheduler": "none"},
        "data": {
            "image_size": args.image_size,
            "batch_size": args.batch_size,
            "workers": args.workers,
            "pseudo_fakes": "none" if job.recipe == "plain" else "sbi",
            "sbi_mask": args.sbi_mask,
        },
    }
    name = f"{job.model}-{job.recipe}-{job.trained_on or 'reals'}-{job.seed}"
    started = time.perf_counter()
    fitted = fit(load_config(overrides=overrides), data, work / "runs" / name)
    tested = run_test(
        fitted.run_dir / "best", [crops], work / "tests" / name, device=args.device, names=["test"]
    )
    result = tested.results[0]
    if result.overlap:
        raise RuntimeError(f"{name}: {result.overlap} test videos were in training")
    auc = per_method_auc(read_scores_csv(result.out_dir / "frames.csv"))
    shutil.rmtree(work / "runs" / name, ignore_errors=True)  # checkpoints of a benchmark are not kept
    return {
        **dataclasses.asdict(job),
        "recipe": recipe_label(job.recipe, args.sbi_mask),
        "auc": auc,
        "best_epoch": fitted.best_epoch,
        "seconds": time.perf_counter() - started,
    }


def paired_gains(summary: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per model and recipe other than ``plain``: its unseen-method frame AUC minus plain training's,
    seed by seed (a seed fixes the people, the data and the initialisation, so the difference is
    paired), over the seeds both have. ``summary`` is :func:`summarise`'s.

    >>> rows = [{"model": "m", "recipe": "plain", "unseen_by_seed": {0: 0.5, 1: 0.6}},
    ...         {"model": "m", "recipe": "sbi", "unseen_by_seed": {0: 0.7, 1: 0.5, 2: 0.9}}]
    >>> [(g["recipe"], [round(d, 2) for d in g["gains"]]) for g in paired_gains(rows)]
    [('sbi', [0.2, -0.1])]
    """
    plain = {entry["model"]: entry["unseen_by_seed"] for entry in summary if entry["recipe"] == "plain"}
    gains = []
    for entry in summary:
        base = plain.get(entry["model"])
        if entry["recipe"] == "plain" or not base:
            continue
        seeds = sorted(set(base) & set(entry["unseen_by_seed"]))
        gains.append(
            {
                "model": entry["model"],
                "recipe": entry["recipe"],
                "gains": [entry["unseen_by_seed"][seed] - base[seed] for seed in seeds],
            }
        )
    return gains


def _gains_table(summary: Sequence[Mapping[str, Any]]) -> list[str]:
    lines = [
        "| model | recipe | unseen frame AUC minus plain's, mean ± sd | seeds better than plain |",
        "| --- | --- | --- | --- |",
    ]
    for gain in paired_gains(summary):
        if len(gain["gains"]) < 2:
            continue
        mean, sd = statistics.fmean(gain["gains"]), statistics.stdev(gain["gains"])
        better, seeds = sum(value > 0 for value in gain["gains"]), len(gain["gains"])
        lines.append(f"| {gain['model']} | {gain['recipe']} | {mean:+.3f} ± {sd:.3f} | {better} of {seeds} |")
    return lines


def _table(summary: Sequence[Mapping[str, Any]]) -> list[str]:
    lines = [
        "| model | recipe | trained on | seen: frame AUC | seen: video AUC | unseen: frame AUC"
        " | unseen: video AUC |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for entry in summary:
        trained = SBI_ONLY + " + SBI" if entry["recipe"].startswith("sbi-only") else "one method at a time"
        lines.append(
            f"| {entry['model']} | {entry['recipe']} | {trained} | {mean_sd(entry['seen_frame'])} |"
            f" {mean_sd(entry['seen_video'])} | {mean_sd(entry['unseen_frame'])} |"
            f" {mean_sd(entry['unseen_video'])} |"
        )
    return lines


def _matrix(rows: Sequence[Mapping[str, Any]], methods: Sequence[str]) -> list[str]:
    """Frame AUC (video AUC) of every training on every test method, mean ± sd over seeds."""
    lines = [
        "| model | recipe | trained on | " + " | ".join(methods) + " |",
        "| --- | --- | --- | " + " | ".join("---" for _ in methods) + " |",
    ]
    keys: dict[tuple[str, str, str | None], list[Mapping[str, Any]]] = {}
    for row in rows:
        keys.setdefault((row["model"], row["recipe"], row["trained_on"]), []).append(row)
    for (model, recipe, trained_on), group in keys.items():
        cells = []
        for method in methods:
            frame = mean_sd([r["auc"][method][0] for r in group if method in r["auc"]])
            video = mean_sd([r["auc"][method][1] for r in group if method in r["auc"]])
            mark = "**" if method == trained_on else ""
            cells.append(f"{mark}{frame}{mark} ({video})")
        lines.append(f"| {model} | {recipe} | {trained_on or SBI_ONLY} | " + " | ".join(cells) + " |")
    return lines


def _settings(rows: Sequence[Mapping[str, Any]], args: argparse.Namespace) -> str:
    """The settings line of one run (``args``) and its ``rows``."""
    seeds = sorted({row["seed"] for row in rows})
    models = list(dict.fromkeys(row["model"] for row in rows))
    trained = sorted({row["trained_on"] for row in rows if row["trained_on"]})
    selection = (
        "a held-out clip of a training person and its fakes of the seen method (the val people join training)"
        if args.select == "known-clip"
        else f"the val split ({args.held_out} new people)"
    )
    return (
        f"Settings of {', '.join(models)}: seeds {', '.join(map(str, seeds))}; trained on, one at a time:"
        f" {', '.join(trained) or '–'}; clips {args.clip_frames} frames at {args.clip_size} px,"
        f" {args.crop_frames} crops per video at {args.image_size} px; {args.epochs} epochs, batch"
        f" {args.batch_size}, Adam lr {args.lr:g}, no schedule, {args.threads} thread(s);"
        f" {args.held_out} other people held out for test per seed; best epoch by validation loss on"
        f" {selection}; SBI masks: {getattr(args, 'sbi_mask', 'ellipse')}."
    )


_KEPT_NOTE = "(Carried over from the earlier run; its per-job rows were not kept.)"


def kept_lines(section: str, models: Sequence[str]) -> dict[str, list[str]]:
    r"""The lines of ``models`` in an already published section, for rows whose JSON was not kept:
    ``settings`` (their settings bullets), ``summary`` and ``matrix`` (their table rows).

    >>> text = "- Settings of cnn: x\n| cnn | plain | a |\nEvery training against\n| cnn | plain | b |"
    >>> kept_lines(text, ["cnn"])["matrix"]
    ['| cnn | plain | b |']
    """
    out: dict[str, list[str]] = {"settings": [], "summary": [], "matrix": []}
    part = "summary"
    for line in section.splitlines():
        if line.startswith("Every training against"):
            part = "matrix"
        if any(line.startswith(f"- Settings of {m}:") for m in models):
            out["settings"].append(line)
        elif any(line.startswith(f"| {m} |") for m in models):
            out[part].append(line)
    return out


def render(
    runs: Sequence[tuple[Sequence[Mapping[str, Any]], argparse.Namespace]],
    budget: Mapping[str, float],
    kept: Mapping[str, Sequence[str]] | None = None,
) -> str:
    """The BENCHMARKS.md section from ``runs``: each the rows of one run and its settings; ``kept``
    (:func:`kept_lines`) adds the published lines of models whose rows were not kept, first."""
    kept = kept or {"settings": [], "summary": [], "matrix": []}
    import torch

    rows = [row for run_rows, _ in runs for row in run_rows]
    first = runs[0][1]
    methods = list(first.methods)
    summary = summarise(rows, methods)
    device = (
        torch.cuda.get_device_name(0)
        if first.device.startswith("cuda")
        else f"{cpu_model()}, {usable_cores()} cores"
    )
    shared = (
        f" The machine was shared with other jobs (load average {budget['load']:.1f} at the end),"
        " so wall times are contended; the CPU time is the budget."
        if budget.get("load")
        else ""
    )
    side_by_side = f", summed over {len(runs)} runs" if len(runs) > 1 else ""
    lines = [
        START,
        "## Generalisation to unseen forgery methods (`benchmarks/bench_generalisation.py`)",
        "",
        f"Machine: {device}; Python {platform.python_version()}, torch {torch.__version__};"
        f" {dt.date.today().isoformat()}. Budget: {budget['wall'] / 60:.1f} min wall,"
        f" {budget['cpu'] / 60:.1f} min CPU time{side_by_side} (CPU time: all threads of the"
        f" benchmark's processes{'; carried-over rows not counted' if kept['settings'] else ''})."
        f"{shared} Methods: {', '.join(methods)}.",
        "",
        *(line if line.endswith(_KEPT_NOTE) else f"{line} {_KEPT_NOTE}" for line in kept["settings"]),
        *(f"- {_settings(run_rows, args)}" for run_rows, args in runs),
        "",
        "Summary: *seen* is the held-out people's fakes of the method trained on; *unseen* the mean over"
        " the methods not trained on. Each cell: mean ± sd over seeds (frame / video AUC; video ="
        " mean of its frame scores).",
        "",
        *_table(summary)[:2],
        *kept["summary"],
        *_table(summary)[2:],
        "",
        "Paired by seed (a seed fixes the people, the data and the initialisation): each recipe's"
        " unseen-method frame AUC minus plain training's in the same seed.",
        "",
        *_gains_table(summary),
        "",
        "Every training against every test method: frame AUC (video AUC), mean ± sd over seeds; bold is"
        " the method trained on.",
        "",
        *_matrix(rows, methods)[:2],
        *kept["matrix"],
        *_matrix(rows, methods)[2:],
        "",
        "A dozen people and synthetic forgeries: this compares recipes on forgeries they never saw; it"
        " is no measure of accuracy on FaceForensics++ or on videos from the wild.",
        END,
        "",
    ]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    from fakescan.synth.build import ALL_METHODS
    from fakescan.train.config import SBI_MASKS

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--models", default=None, help="comma list (default: every wanted model the registry has)"
    )
    parser.add_argument(
        "--recipes", default=",".join(RECIPES), help="comma list of plain, plain+sbi, sbi-only"
    )
    parser.add_argument("--methods", default=",".join(ALL_METHODS), help="synthetic methods, comma list")
    parser.add_argument(
        "--train-methods", default=None, help="methods to train on, one at a time (default: all)"
    )
    parser.add_argument("--seeds", default="0,1,2", help="comma list, at least three for a table")
    parser.add_argument("--image-size", type=int, default=64, help="crop side = training input, pixels")
    parser.add_argument("--clip-size", type=int, default=128, help="side of the synthetic clips, pixels")
    parser.add_argument("--clip-frames", type=int, default=12, help="frames per synthetic clip")
    parser.add_argument("--crop-frames", type=int, default=8, help="face crops per video")
    parser.add_argument("--clips-per-video", type=int, default=3)
    parser.add_argument("--held-out", type=int, default=3, help="people held out for val, and for test")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument(
        "--select", choices=("known-clip", "people"), default="known-clip",
        help="checkpoints chosen on a held-out clip of a training person (and the val people join"
        " training), or on the val split's new people",
    )  # fmt: skip
    parser.add_argument(
        "--sbi-mask", choices=SBI_MASKS, default="ellipse",
        help="blend region of the self-blends (data.sbi_mask): mesh is the hull of the FaceMesh points"
        " the extraction (BlazeFace) keeps beside the crops",
    )  # fmt: skip
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: usable cores)")
    parser.add_argument("--work", type=Path, default=None, help="keep the data and test reports here")
    parser.add_argument("--rows", type=Path, default=None, help="also write the per-job results (JSON) here")
    parser.add_argument(
        "--from-rows", type=Path, nargs="+", default=None,
        help="train nothing: render the table from --rows files of earlier runs (same settings)",
    )  # fmt: skip
    parser.add_argument(
        "--keep", default="",
        help="with --from-rows: comma list of models whose lines of the published section are kept"
        " as they are (their rows files were not kept)",
    )  # fmt: skip
    parser.add_argument("--write", action="store_true", help="update this section of BENCHMARKS.md")
    args = parser.parse_args(argv)
    args.models = args.models.split(",") if args.models else default_models()
    args.recipes = args.recipes.split(",")
    args.methods = args.methods.split(",")
    args.train_methods = args.train_methods.split(",") if args.train_methods else list(args.methods)
    if set(args.train_methods) - set(args.methods):
        parser.error(f"--train-methods must be among --methods ({', '.join(args.methods)})")
    args.seeds = [int(s) for s in args.seeds.split(",")]
    return args


def _load() -> float:
    """The 1-minute load average (0 where the system has none)."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0


def main(argv: Sequence[str] | None = None) -> int:
    import torch

    args = parse_args(argv)
    if args.from_rows:
        saved = [json.loads(path.read_text(encoding="utf-8")) for path in args.from_rows]
        runs = [(run["rows"], argparse.Namespace(**run["settings"])) for run in saved]
        budget = {key: sum(run["budget"][key] for run in saved) for key in ("wall", "cpu")}
        budget["load"] = max(run["budget"].get("load", 0.0) for run in saved)
        kept = None
        if args.keep:
            text = BENCHMARKS_MD.read_text(encoding="utf-8")
            section = text[text.find(START) : text.find(END)]
            kept = kept_lines(section, args.keep.split(","))
            if not kept["summary"]:
                raise SystemExit(f"--keep {args.keep}: no such rows in the published section")
        publish(render(runs, budget, kept), BENCHMARKS_MD, args.write, START, END)
        return 0
    args.threads = args.threads or usable_cores()
    torch.set_num_threads(args.threads)
    jobs = plan_jobs(args.models, args.recipes, args.train_methods, args.seeds)
    if len(args.seeds) < 3:
        print("note: fewer than 3 seeds; the table will not be a quality claim", file=sys.stderr)
    work = args.work or Path(tempfile.mkdtemp(prefix="fakescan-generalisation-"))
    work.mkdir(parents=True, exist_ok=True)
    started, cpu_started = time.perf_counter(), time.process_time()
    rows = []
    try:
        for seed in args.seeds:
            crops, synth = _build(seed, args, work)
            test_people = sorted({synth.identities[c] for pair in synth.pairs["test"] for c in pair})
            print(f"seed {seed}: test people {', '.join(test_people)}", flush=True)
            for job in (j for j in jobs if j.seed == seed):
                row = _run_job(job, crops, synth, args, work)
                rows.append(row)
                aucs = ", ".join(f"{m} {f:.2f}/{v:.2f}" for m, (f, v) in row["auc"].items())
                print(
                    f"  {job.model} {job.recipe} on {job.trained_on or SBI_ONLY}: {aucs}"
                    f" ({row['seconds']:.0f} s)",
                    flush=True,
                )
                if args.rows:
                    budget = {"wall": time.perf_counter() - started, "cpu": time.process_time() - cpu_started}
                    budget["load"] = _load()
                    saved = {"rows": rows, "budget": budget, "settings": vars(args) | {"work": str(work)}}
                    args.rows.write_text(json.dumps(saved, indent=1, default=str) + "\n", encoding="utf-8")
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    budget = {"wall": time.perf_counter() - started, "cpu": time.process_time() - cpu_started}
    budget["load"] = _load()
    publish(render([(rows, args)], budget), BENCHMARKS_MD, args.write, START, END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
