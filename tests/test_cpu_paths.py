"""The parity checks on other CPU code paths: numpy without its AVX-512 kernels (or without any SIMD dispatch),
torch's default and AVX2 kernels, oneDNN limited to AVX2 — what a CPU without AVX-512 runs (issue 10 §3: such a
machine failed bit-equality tests that this one passed).

``tests/cpu_paths.py`` computes the outputs in a fresh process per setting (the switches are read at import), all
settings side by side; each test then checks one setting's outputs against the references with the tolerances of
``tests/parity.py``, after checking from the process's own report that the switch took effect (a switch that is
silently ignored fails). A switch that cannot change anything on this CPU (e.g. no AVX-512 to turn off) still runs
the checks, then reports a skip that says so.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import parity
from cpu_paths import MAP_LAYERS, SWITCHES, numpy_dispatch

HERE = Path(__file__).resolve().parent
REF = HERE / "data" / "musicnn_ref"
CLIPS = ("chords", "chirp", "loud")


def _settings() -> dict[str, dict[str, str]]:
    dispatch, _ = numpy_dispatch()
    avx512 = [t for t in dispatch if t.startswith(("AVX512", "X86_V4"))]  # numpy 2.x's names (1.x: AVX512F, ...)
    return {
        "default": {},
        "numpy-no-avx512": {"NPY_DISABLE_CPU_FEATURES": " ".join(avx512)} if avx512 else {},
        "numpy-baseline": {"NPY_DISABLE_CPU_FEATURES": " ".join(dispatch)} if dispatch else {},
        "aten-default": {"ATEN_CPU_CAPABILITY": "default"},
        "aten-avx2": {"ATEN_CPU_CAPABILITY": "avx2"},
        "onednn-avx2": {"ONEDNN_MAX_CPU_ISA": "AVX2"},
    }


SETTINGS = _settings()


def _mood_clips(folder: Path) -> list[Path]:
    """Three short generated clips of different character (6 s each)."""
    from audio_synth import a_minor_progression, drum_pattern, music_like, write

    return [
        write(folder / "a_minor.wav", a_minor_progression(bar=0.5)),
        write(folder / "drums.wav", drum_pattern(140, 6.0)),
        write(folder / "music.wav", music_like(6.0, seed=3)),
    ]


def _run(name: str, env_extra: dict[str, str], folder: Path, clips: list[Path]) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in SWITCHES}
    env.update(env_extra, OMP_NUM_THREADS="1", TRACKSCOPE_FEATURE_CACHE=str(folder / f"cache-{name}"))
    out = folder / f"{name}.pkl"
    cmd = [sys.executable, str(HERE / "cpu_paths.py"), str(out), *map(str, clips)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        return {"error": f"{name}: exit {proc.returncode}\n{proc.stderr[-3000:]}"}
    with open(out, "rb") as f:
        result = pickle.load(f)  # written by our own script just now
    isa = [line.split("isa:", 1)[1].strip() for line in proc.stdout.splitlines() if ",isa:" in line]
    result["probe"]["onednn_isa"] = isa[0] if isa else None
    return result


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, dict]:
    """Every setting's outputs, computed in parallel subprocesses (one core each)."""
    folder = tmp_path_factory.mktemp("cpu_paths")
    clips = _mood_clips(folder / "clips")
    workers = max(1, min(len(SETTINGS), os.cpu_count() or 1))
    with ThreadPoolExecutor(workers) as pool:
        futures = {name: pool.submit(_run, name, env, folder, clips) for name, env in SETTINGS.items()}
        return {name: f.result() for name, f in futures.items()}


@pytest.fixture(scope="module")
def references(runs) -> dict:
    """librosa's mel spectrograms and descriptors, TF's musicnn outputs and the low-rank rounding scale."""
    pytest.importorskip("librosa")
    import librosa

    from audio_synth import SR, music_like
    from trackscope.audio.musicnn.weights import load_weights

    y = music_like(6.0)  # as in tests/cpu_paths.py
    default = runs["default"]
    if "error" in default:
        pytest.fail(default["error"])
    with np.load(REF / "clips.npz") as z:
        loud = z["patches_loud"]
    plain = {k: default[f"low_rank/plain/{k}"] for k in parity.LOW_RANK_OUTPUTS}
    with np.load(REF / "MSD_musicnn.npz") as z, np.load(REF / "MSD_vgg.npz") as v, np.load(REF / "clips.npz") as c:
        return {
            "patches": {k: c[f"patches_{k}"] for k in CLIPS},
            "MSD_musicnn": dict(z),
            "MSD_vgg": dict(v),
            "mel/default": librosa.feature.melspectrogram(y=y),
            "mel/musicnn": librosa.feature.melspectrogram(y=y, sr=16_000, n_fft=512, hop_length=256, n_mels=96),
            "descriptors": parity.librosa_descriptors(y, SR),
            "n_samples": y.size,
            "low_rank_scale": parity.musicnn_rounding_scale(load_weights("MSD_musicnn"), loud, plain),
        }


_ABOVE_AVX2 = ("AVX-512", "AVX512", "AMX", "AVX10")


def _switch_state(name: str, probe: dict, default: dict) -> str | None:
    """Check that the setting's switch took effect; return why it could not change anything here, or None."""
    env = SETTINGS[name]
    if name == "default":
        return None
    if name.startswith("numpy"):
        if not env:
            return "numpy has no such SIMD targets on this platform"
        off = env["NPY_DISABLE_CPU_FEATURES"].split()
        still = [t for t in off if probe["npy_enabled"].get(t)]
        assert not still, f"NPY_DISABLE_CPU_FEATURES ignored: {still} still in use"
        if probe["npy_log10_f32"] is not None:
            assert probe["npy_log10_f32"] not in off, f"float32 log10 still runs {probe['npy_log10_f32']}"
        if not any(default["npy_enabled"].get(t) for t in off):
            return f"this CPU runs none of {off} anyway"
        return None
    if name.startswith("aten"):
        want = env["ATEN_CPU_CAPABILITY"].upper()
        if want == "AVX2" and default["aten"] != "AVX512":  # AVX2 can only lower an AVX-512 capability
            assert probe["aten"] in (default["aten"], "AVX2"), probe["aten"]
            return f"torch runs {default['aten']} kernels here (nothing above AVX2 to turn off)"
        assert probe["aten"] == want, f"ATEN_CPU_CAPABILITY ignored: torch reports {probe['aten']}"
        return None if default["aten"] != want else f"torch runs {want} kernels here anyway"
    if name == "onednn-avx2":
        if not default["onednn"] or default["onednn_isa"] is None:
            return "this torch has no oneDNN (or it does not report its ISA)"
        isa = probe["onednn_isa"] or ""
        assert not any(s in isa for s in _ABOVE_AVX2), f"ONEDNN_MAX_CPU_ISA ignored: oneDNN reports {isa!r}"
        if not any(s in default["onednn_isa"] for s in _ABOVE_AVX2):
            return f"oneDNN runs {default['onednn_isa']!r} here anyway"
        return None
    raise AssertionError(name)


def _result(runs: dict, name: str) -> dict:
    r = runs[name]
    if "error" in r:
        pytest.fail(r["error"])
    return r


@pytest.mark.parametrize("name", list(SETTINGS))
def test_parity_checks_hold_on_every_cpu_path(name, runs, references):
    r = _result(runs, name)
    no_op = _switch_state(name, r["probe"], _result(runs, "default")["probe"])
    rows = slice(None)  # tests/cpu_paths.py keeps only the reference's rows of the feature maps
    for kind in CLIPS:
        parity.check_patches(r[f"patches/{kind}"], references["patches"][kind], f"{name} {kind}")
        out = {k: r[f"MSD_musicnn/{kind}/{k}"] for k in (*parity.NETWORK_OUTPUTS, *MAP_LAYERS)}
        parity.check_network(out, references["MSD_musicnn"], kind, rows=rows)
    for k in ("taggram", "pool5"):
        got, want = r[f"MSD_vgg/chords/{k}"], references["MSD_vgg"][f"chords_{k}"]
        np.testing.assert_allclose(got, want, rtol=0, atol=parity.VGG_ATOL, err_msg=f"{name} VGG {k}")
    fast = {k: r[f"low_rank/fast/{k}"] for k in parity.LOW_RANK_OUTPUTS}
    plain = {k: r[f"low_rank/plain/{k}"] for k in parity.LOW_RANK_OUTPUTS}
    parity.check_low_rank(fast, plain, references["low_rank_scale"], f"{name}: ")
    parity.check_mel(r["mel/default"], references["mel/default"], n_fft=2048, what=f"{name} mel")
    parity.check_mel(r["mel/musicnn"], references["mel/musicnn"], n_fft=512, what=f"{name} musicnn mel")
    parity.check_descriptors(r["descriptors"], references["descriptors"], references["n_samples"])
    if no_op:
        pytest.skip(f"{name}: the checks passed, but the switch is a no-op on this CPU: {no_op}")


# Probabilities from features that move by float32 rounding (≲ 1e-5 relative) through a scaled linear model:
# a class probability moves by far less than 1e-3 unless the model amplifies rounding noise (issue 10 §2).
MOOD_ATOL = 1e-3


@pytest.mark.parametrize("name", [n for n in SETTINGS if n != "default"])
def test_builtin_mood_gives_the_same_answers_on_every_cpu_path(name, runs):
    r, default = _result(runs, name), _result(runs, "default")
    no_op = _switch_state(name, r["probe"], default["probe"])
    assert r["mood/classes"] == default["mood/classes"]
    p, p0 = r["mood/proba"], default["mood/proba"]
    assert (p.argmax(axis=1) == p0.argmax(axis=1)).all(), f"{name}: moods {p.argmax(1)} vs {p0.argmax(1)}"
    np.testing.assert_allclose(p, p0, rtol=0, atol=MOOD_ATOL, err_msg=name)
    if no_op:
        pytest.skip(f"{name}: same moods, but the switch is a no-op on this CPU: {no_op}")
