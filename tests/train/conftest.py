"""Fixtures of the training tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.train.crops import build_crops_dir


@pytest.fixture(scope="session")
def crops_dir(samples: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real and manipulated face crops with ``crops.csv``, split into train, val and test by person
    (:func:`tests.train.crops.build_crops_dir`)."""
    return build_crops_dir(samples, tmp_path_factory.mktemp("engine-crops"))
