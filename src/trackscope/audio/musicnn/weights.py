"""musicnn's published weights, fetched once from PyPI and kept as safetensors in the user cache.

The weights ship inside the ``musicnn==0.1.0`` source distribution (ISC licence, Music Technology Group, Universitat
Pompeu Fabra) as TensorFlow-1 checkpoints. On first use we let pip download that sdist (``sys.executable -m pip
download --no-deps --no-binary :all:``, hash-pinned, so pip checks it before doing anything with it), verify its
sha256 again, read the checkpoints with :mod:`trackscope.audio.musicnn.bundle` and write one safetensors file per
model into ``<cache>/musicnn-0.1.0/`` (``<cache>`` is ``platformdirs.user_cache_dir("trackscope")`` or the
``TRACKSCOPE_CACHE`` environment variable), with musicnn's licence beside them. After that no network is needed.

Without network, download the sdist elsewhere (``pip download --no-deps --no-binary :all: musicnn==0.1.0``) and
point ``TRACKSCOPE_MUSICNN_SDIST`` at the ``musicnn-0.1.0.tar.gz`` file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from trackscope._hash import file_sha256
from trackscope._paths import ENV_CACHE  # noqa: F401 — re-exported: the cache variable's name
from trackscope.errors import ModelError, TrackscopeError

SDIST_NAME = "musicnn-0.1.0.tar.gz"
SDIST_REQUIREMENT = "musicnn==0.1.0"
# sha256 of musicnn-0.1.0.tar.gz as served by PyPI (observed 2026-11-21; PyPI files are immutable).
SDIST_SHA256 = "674ccc1fb638e6894f99197cfc2794b90d96444292ea28cedee96de0f74c4abd"
MODELS: tuple[str, ...] = ("MSD_musicnn", "MTT_musicnn", "MSD_vgg", "MTT_vgg")
ENV_SDIST = "TRACKSCOPE_MUSICNN_SDIST"
_SUBDIR = "musicnn-0.1.0"
_HELP = (
    f"download it where there is internet (`pip download --no-deps --no-binary :all: {SDIST_REQUIREMENT}`) "
    f"and set {ENV_SDIST}=/path/to/{SDIST_NAME}"
)


def cache_dir() -> Path:
    """trackscope's cache folder: ``$TRACKSCOPE_CACHE`` or the platform's user cache dir."""
    from trackscope._paths import cache_dir as _cache_dir

    return _cache_dir()


def weights_dir() -> Path:
    """Where the converted musicnn weights live (may not exist yet)."""
    return cache_dir() / _SUBDIR


def _download_sdist(dest: Path) -> Path:
    """Let pip fetch the hash-pinned sdist into ``dest``; a clear error when it cannot."""
    req = dest / "requirements.txt"
    req.write_text(f"{SDIST_REQUIREMENT} --hash=sha256:{SDIST_SHA256}\n")
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "--require-hashes"]
    cmd += ["--disable-pip-version-check", "--retries", "1", "--timeout", "30", "-d", str(dest), "-r", str(req)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise TrackscopeError(f"cannot fetch the musicnn weights: running pip failed ({exc}); {_HELP}") from exc
    found = dest / SDIST_NAME
    if proc.returncode != 0 or not found.is_file():
        said = [line.strip() for line in (proc.stderr or proc.stdout or "").splitlines() if line.strip()]
        reason = said[-1] if said else f"exit code {proc.returncode}"
        raise TrackscopeError(f"cannot fetch the musicnn weights from PyPI (pip: {reason}); {_HELP}")
    return found


def _extract_and_convert(sdist: Path, out: Path, tmp: Path) -> None:
    from safetensors.numpy import save_file

    from trackscope.audio.musicnn.bundle import read_bundle

    wanted = {f"{_SUBDIR}/musicnn/{m}/{s}" for m in MODELS for s in (".index", ".data-00000-of-00001")}
    wanted.add(f"{_SUBDIR}/LICENSE.md")
    try:
        with tarfile.open(sdist, "r:gz") as tar:
            members = [m for m in tar.getmembers() if m.name in wanted and m.isfile()]
            try:
                tar.extractall(tmp, members=members, filter="data")
            except TypeError:  # Python < 3.11.4 has no filter; the members are known regular files anyway
                tar.extractall(tmp, members=members)
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ModelError(f"cannot unpack the musicnn sdist: {exc}", path=sdist) from exc
    root = tmp / _SUBDIR
    if len(members) != len(wanted):
        raise ModelError("the musicnn sdist lacks some checkpoint files", path=sdist)
    out.mkdir(parents=True, exist_ok=True)
    for model in MODELS:
        tensors = read_bundle(f"{root / 'musicnn' / model}/", skip=_is_training_state)
        meta = {"source": SDIST_NAME, "sdist_sha256": SDIST_SHA256, "model": model, "layout": "tensorflow"}
        part = out / f".{model}.{os.getpid()}.part"
        save_file(tensors, str(part), metadata=meta)
        os.replace(part, out / f"{model}.safetensors")
    licence = (root / "LICENSE.md").read_text(encoding="utf-8")
    note = (
        "The files in this folder are the weights of musicnn 0.1.0 (https://github.com/jordipons/musicnn),\n"
        f"converted by trackscope from the TensorFlow checkpoints in {SDIST_NAME} (sha256 {SDIST_SHA256}).\n"
        "musicnn's licence (ISC) follows.\n\n"
    )
    part = out / f".LICENSE.{os.getpid()}.part"
    part.write_text(note + licence, encoding="utf-8")
    os.replace(part, out / "LICENSE-musicnn.md")


def _is_training_state(name: str) -> bool:
    return "Adam" in name or name.endswith("_power")  # optimizer slots and Adam's beta powers


def ensure_weights(model: str = "MSD_musicnn") -> Path:
    """Path of ``model``'s safetensors file, fetching and converting all musicnn weights on first use."""
    if model not in MODELS:
        raise TrackscopeError(f"unknown musicnn model {model!r}; choose one of {', '.join(MODELS)}")
    out = weights_dir()
    target = out / f"{model}.safetensors"
    if target.is_file() and (out / "LICENSE-musicnn.md").is_file():
        return target
    with tempfile.TemporaryDirectory(prefix="trackscope-musicnn-") as tmpname:
        tmp = Path(tmpname)
        given = os.environ.get(ENV_SDIST)
        if given:
            sdist = Path(given).expanduser()
            if not sdist.is_file():
                raise TrackscopeError(f"{ENV_SDIST} names no file; {_HELP}", path=sdist)
        else:
            sdist = _download_sdist(tmp)
        digest = file_sha256(sdist)
        if digest != SDIST_SHA256:
            raise TrackscopeError(
                f"this is not the musicnn 0.1.0 sdist from PyPI (sha256 {digest[:16]}…, expected "
                f"{SDIST_SHA256[:16]}…); {_HELP}",
                path=sdist,
            )
        _extract_and_convert(sdist, out, tmp)
    info = {"source": SDIST_NAME, "sdist_sha256": SDIST_SHA256, "models": list(MODELS)}
    part = out / f".SOURCE.{os.getpid()}.part"
    part.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    os.replace(part, out / "SOURCE.json")
    return target


def load_weights(model: str = "MSD_musicnn") -> dict:
    """``model``'s tensors (TensorFlow names and layouts) as numpy arrays."""
    from safetensors.numpy import load_file

    path = ensure_weights(model)
    try:
        return load_file(str(path))
    except Exception as exc:  # a truncated or foreign file in the cache
        raise ModelError(
            f"cannot read cached musicnn weights ({exc}); delete the file to fetch again", path=path
        ) from exc
