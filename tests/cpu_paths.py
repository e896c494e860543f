"""The parity outputs under one CPU code path, in a fresh process: ``python tests/cpu_paths.py OUT [CLIPS...]``.

numpy, torch (ATen) and oneDNN each pick SIMD kernels at run time, and environment variables read at import force
a narrower choice — the code a CPU without AVX-512 (or without AVX2) runs:

- ``NPY_DISABLE_CPU_FEATURES``: numpy's dispatch targets to turn off (numpy 2.x names, e.g. ``X86_V4 AVX512_ICL``);
- ``ATEN_CPU_CAPABILITY``: torch's kernels (``default``, ``avx2``, ``avx512``);
- ``ONEDNN_MAX_CPU_ISA``: oneDNN's convolutions and GEMMs (``AVX2``, ``SSE41``, ...).

This script reports which paths actually ran (so that a test can fail when a switch is silently ignored) and writes
the outputs that ``tests/test_cpu_paths.py`` checks against the references: musicnn's front-end patches, the
musicnn and VGG networks on the reference patches, the low-rank network against the plain one, the mel spectrogram
and descriptors of a generated clip and, given clip paths, the probabilities of the shipped ``builtin:mood`` model.
The oneDNN probe prints oneDNN's verbose lines on stdout; everything else goes to the pickle ``OUT``.
"""

from __future__ import annotations

import os
import pickle
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SWITCHES = ("NPY_DISABLE_CPU_FEATURES", "ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA")
MAP_LAYERS = ("timbral", "temporal", "cnn1", "cnn2", "cnn3")


def numpy_dispatch() -> tuple[list[str], dict[str, bool]]:
    """numpy's dispatch targets and whether each is in use (hardware has it and it is not disabled)."""
    try:
        from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
    except ImportError:  # numpy 1.x
        from numpy.core._multiarray_umath import __cpu_dispatch__, __cpu_features__
    return list(__cpu_dispatch__), {t: bool(__cpu_features__.get(t, False)) for t in __cpu_dispatch__}


def probe() -> dict:
    """Which code paths this process runs: numpy's targets (and log10's kernel), ATen's capability, oneDNN's ISA."""
    import numpy as np
    import torch

    dispatch, enabled = numpy_dispatch()
    log10 = None
    try:
        from numpy.lib.introspect import opt_func_info

        info = opt_func_info(func_name="^log10$", signature="float32")
        log10 = next(iter(next(iter(info.values())).values()))["current"]
    except (ImportError, StopIteration, KeyError):
        pass
    onednn = torch.backends.mkldnn.is_available()
    if onednn:  # oneDNN prints its ISA ("isa:Intel AVX2") and kernels ("brg_matmul:avx2") on stdout here
        sys.stdout.flush()
        a, w = torch.randn(64, 64), torch.randn(32, 64)
        with torch.backends.mkldnn.verbose(torch.backends.mkldnn.VERBOSE_ON):
            torch.ops.mkldnn._linear_pointwise(a, w, None, "none", [], "")
            torch.nn.functional.conv2d(torch.randn(1, 8, 16, 16), torch.randn(8, 8, 3, 3))
    return {
        "numpy": np.__version__,
        "npy_dispatch": dispatch,
        "npy_enabled": enabled,
        "npy_log10_f32": log10,
        "aten": torch.backends.cpu.get_cpu_capability(),
        "onednn": onednn,
        "env": {k: os.environ.get(k) for k in SWITCHES},
    }


def compute(clips: list[str]) -> dict:
    """The outputs checked by tests/test_cpu_paths.py (small inputs: a few seconds on one core)."""
    import json

    import numpy as np
    import torch

    torch.set_num_threads(1)
    sys.path.insert(0, str(HERE))
    from audio_synth import music_like
    from parity import LOW_RANK_OUTPUTS, NETWORK_OUTPUTS
    from test_musicnn import CLIPS, synth_clip
    from trackscope.audio.descriptors import describe
    from trackscope.audio.io import decode_array
    from trackscope.audio.mel import melspectrogram
    from trackscope.audio.musicnn import embed_patches
    from trackscope.audio.musicnn.frontend import spectrogram_patches
    from trackscope.audio.musicnn.model import build_model
    from trackscope.audio.musicnn.weights import load_weights

    out: dict = {"probe": probe()}
    ref = HERE / "data" / "musicnn_ref"
    rows = json.loads((ref / "meta.json").read_text())["frame_rows"]
    with np.load(ref / "clips.npz") as z:
        ref_patches = {k.removeprefix("patches_"): z[k] for k in z.files if k.startswith("patches_")}
    for kind in CLIPS:
        pcm, sr = synth_clip(kind)
        out[f"patches/{kind}"] = spectrogram_patches(decode_array(pcm, sr, sr=16000))
        net = embed_patches(ref_patches[kind], model="MSD_musicnn", device="cpu")
        out.update({f"MSD_musicnn/{kind}/{k}": net[k] for k in NETWORK_OUTPUTS})
        out.update({f"MSD_musicnn/{kind}/{k}": net[k][:, rows] for k in MAP_LAYERS})  # the reference's rows
    vgg = embed_patches(ref_patches["chords"], model="MSD_vgg", device="cpu", layers=["taggram", "pool5"])
    out["MSD_vgg/chords/taggram"], out["MSD_vgg/chords/pool5"] = vgg["taggram"], vgg["pool5"]
    w = load_weights("MSD_musicnn")
    x = torch.from_numpy(ref_patches["loud"])
    with torch.inference_mode():
        fast = build_model(w, factorize=True)(x)
        plain = build_model(w, factorize=False, channels_last=False)(x)
    for k in LOW_RANK_OUTPUTS:
        out[f"low_rank/fast/{k}"], out[f"low_rank/plain/{k}"] = fast[k].numpy(), plain[k].numpy()
    y = music_like(6.0)
    out["mel/default"] = melspectrogram(y)
    out["mel/musicnn"] = melspectrogram(y, sr=16_000, n_fft=512, hop_length=256, n_mels=96)
    out["descriptors"] = describe(y)
    if clips:  # the public API, as a user runs it (one row per song, p_<class> columns)
        from trackscope.api import predict

        frame = predict("builtin:mood", songs=clips)
        assert "error" not in frame or frame["error"].isna().all(), frame.get("error")
        cols = [c for c in frame.columns if c.startswith("p_")]
        out["mood/classes"] = [c.removeprefix("p_") for c in cols]
        out["mood/proba"] = frame[cols].to_numpy(dtype=np.float64)
    return out


if __name__ == "__main__":
    result = compute(sys.argv[2:])
    with open(sys.argv[1], "wb") as f:
        pickle.dump(result, f)
