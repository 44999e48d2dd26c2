"""``fakescan import``: published checkpoints (SBI, DeepfakeBench, Effort) as fakescan checkpoints.

A **family** is one kind of published checkpoint: the reference code's key layout, the fakescan
model that runs it, and the preprocessing and output convention the reference uses
(:class:`ImportFamily`). Each family lives in its own module, ``fakescan.imports.<module>``, which
defines ``FAMILY``; :data:`FAMILY_MODULES` maps family names to modules, so that only the family
asked for is imported. :func:`import_checkpoint` reads the published file without unpickling code,
converts it, loads it strictly into the fakescan model and writes a normal checkpoint
(``OUT_DIR/best.safetensors`` + ``best.json``) whose sidecar records the source file, its SHA-256,
the family, the licence as published and the reference files; ``predict``, ``test``, ``export``,
``--explain``, ``calibrate`` and the service then use it like any other checkpoint.

Importing this package (and any family module) loads no torch.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING

from fakescan.errors import ConfigError
from fakescan.imports._base import FaceCrop, ImportFamily

if TYPE_CHECKING:
    import torch

__all__ = [
    "FAMILY_MODULES",
    "FaceCrop",
    "ImportFamily",
    "get_family",
    "import_checkpoint",
    "list_families",
    "load_reference_file",
]

FAMILY_MODULES: dict[str, str] = {
    "sbi": "fakescan.imports.sbi",
    "deepfakebench-xception": "fakescan.imports.deepfakebench_xception",
    "deepfakebench-efficientnetb4": "fakescan.imports.deepfakebench_efficientnetb4",
    "deepfakebench-recce": "fakescan.imports.deepfakebench_recce",
    "effort": "fakescan.imports.effort",
}
"""Family name → the module that defines its ``FAMILY``; names whose module is not installed are
left out of :func:`list_families`."""


def list_families() -> list[str]:
    """The family names :func:`get_family` accepts (in :data:`FAMILY_MODULES` order)."""
    return [name for name, module in FAMILY_MODULES.items() if importlib.util.find_spec(module) is not None]


def get_family(name: str) -> ImportFamily:
    """The family ``name``.

    Raises:
        ConfigError: an unknown family, naming the known ones.
    """
    if name not in list_families():
        raise ConfigError(f"unknown checkpoint family {name!r}; choose one of: {', '.join(list_families())}")
    family = importlib.import_module(FAMILY_MODULES[name]).FAMILY
    if not isinstance(family, ImportFamily) or family.name != name:
        raise ConfigError(f"{FAMILY_MODULES[name]} defines no ImportFamily named {name!r}")
    return family


def load_reference_file(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a published checkpoint's state_dict; see :func:`fakescan.imports._convert.load_reference_file`."""
    from fakescan.imports._convert import load_reference_file as load

    return load(path)


def import_checkpoint(family: str | ImportFamily, file: str | Path, out_dir: str | Path) -> Path:
    """Convert ``file`` of ``family``; see :func:`fakescan.imports._convert.import_checkpoint`."""
    from fakescan.imports._convert import import_checkpoint as run

    return run(family, file, out_dir)
