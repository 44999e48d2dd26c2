"""Each family: a checkpoint in the reference's exact layout, with weights drawn from a seed, gives
through ``fakescan import`` and fakescan's model the logits the reference code gave (≤ 1e-4) on
real sample face crops (fixtures written by ``tests/fixtures/imports/make_<family>.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.imports._parity import TOLERANCE, check_parity, load_fixture


@pytest.mark.parametrize(
    "family", [pytest.param("sbi", marks=pytest.mark.slow), "deepfakebench-xception"]
)  # EfficientNet-B4 at 380 px: about 25 s on a loaded CPU
def test_import_gives_the_reference_logits(family: str, samples: Path, tmp_path: Path) -> None:
    assert check_parity(family, samples, tmp_path) <= TOLERANCE


@pytest.mark.parametrize("family", ["sbi", "deepfakebench-xception"])
def test_the_fixture_logits_depend_on_the_input(family: str) -> None:
    """Seeded weights whose logits were the same for every crop would prove nothing."""
    logits = load_fixture(family)["logits"]
    assert len(logits) >= 3
    assert max(abs(a - b) for a, b in zip(logits[0], logits[1], strict=True)) > 1e-2
