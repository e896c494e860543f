"""Reference outputs of the ORIGINAL musicnn 0.1.0 (TensorFlow) for trackscope's PyTorch port — run once, by hand.

Runs only in a throwaway venv outside the project (musicnn pins numpy < 1.17 and needs TensorFlow)::

    python3 -m venv /tmp/tfref
    /tmp/tfref/bin/pip install --no-deps musicnn==0.1.0
    /tmp/tfref/bin/pip install tensorflow-cpu==2.16.2 "tf-keras==2.16.*" librosa soundfile
    TF_USE_LEGACY_KERAS=1 /tmp/tfref/bin/python bench/make_musicnn_reference.py

It synthesises a few short clips itself (int16, deterministic; ``tests/test_musicnn.py`` regenerates them with the
same code and checks their sha256), writes them as WAV, and runs musicnn's own ``batch_data`` (librosa spectrogram,
float16 log compression, 187-frame patches) and its own graph (``musicnn.models.define_model``), built once and fed
all patches of a clip at once. We do not use ``musicnn.extractor.extractor`` for the features: after the first patch
it copies patch 1's ``penultimate`` and ``cnn1``–``cnn3`` into every later patch (it concatenates the variables of its
first ``sess.run``), so its per-patch values of those layers are wrong; its taggram, mean_pool and max_pool are right,
and we check that they equal ours (``extractor_agrees`` in the saved metadata).

Writes ``tests/data/musicnn_ref/clips.npz`` (the float32 spectrogram patches exactly as musicnn makes them) and
``tests/data/musicnn_ref/<model>.npz`` (taggram, mean_pool, max_pool, penultimate per patch; timbral, temporal,
cnn1–cnn3 for a subset of time frames of every patch, to stay small).

The VGG baselines (``MSD_vgg``, ``MTT_vgg``: ``musicnn.models.vgg``, same 187-frame patches) go to
``tests/data/musicnn_ref/<model>.npz`` too — taggram and pool5 per patch in full; pool1–pool4 (up to 565k values a
patch) as their mean and max over time and bands per channel plus a fixed sample of single values — with their own
metadata in ``vgg_meta.json`` (``meta.json`` stays musicnn's). The original extractor is run once per VGG model as
well: it is right for these models, but stacks the patches' pool maps along the time axis (``np.squeeze`` of a batch
of one, then ``np.concatenate(axis=0)``), which the metadata records. Choose what to (re)make with
``--models`` (default: all four; ``--models MSD_vgg MTT_vgg`` leaves the musicnn files alone and checks that
``clips.npz`` still equals musicnn's patches).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "musicnn_ref"
MODELS = ("MSD_musicnn", "MTT_musicnn")
VGG_MODELS = ("MSD_vgg", "MTT_vgg")
VGG_POOLS = ("pool1", "pool2", "pool3", "pool4")  # pool5 (2 × 1 × 128 a patch) is stored whole
VGG_SAMPLES = 384  # single values kept per patch of each pool1–pool4 map, at seeded random positions
# Time frames kept of the (patch × 187 × channels) layers: the edges (where 'same'/explicit padding acts) and a stride.
FRAME_ROWS = sorted(
    {0, 1, 2, 3, 4, 31, 32, 33, 63, 64, 65, 93, 122, 150, 182, 183, 184, 185, 186} | set(range(0, 187, 23))
)


# --- the clips: keep this block identical to tests/test_musicnn.py::synth_clip ---------------------------------
def synth_clip(kind: str) -> tuple[np.ndarray, int]:
    """Deterministic test audio as int16 (samples, sr)."""
    if kind == "chords":  # 8 s at 16 kHz: a chord progression with a kick drum and a little noise
        sr, n = 16000, 8 * 16000
        t = np.arange(n) / sr
        y = np.zeros(n)
        for i, root in enumerate([220.0, 174.6, 261.6, 196.0]):
            seg = (t >= 2 * i) & (t < 2 * i + 2)
            for ratio in (1.0, 1.26, 1.5, 2.0):
                y[seg] += 0.12 * np.sin(2 * np.pi * root * ratio * t[seg])
        beat = (t % 0.5) < 0.08
        y += beat * 0.5 * np.sin(2 * np.pi * 60 * t) * np.exp(-(t % 0.5) * 30)
        y += 0.02 * np.random.default_rng(1).standard_normal(n)
    elif kind == "chirp":  # 7 s at 22.05 kHz (exercises resampling): a rising chirp over pink-ish noise
        sr, n = 22050, 7 * 22050
        t = np.arange(n) / sr
        y = 0.4 * np.sin(2 * np.pi * (100 * t + 400 * t**2))
        noise = np.cumsum(np.random.default_rng(2).standard_normal(n))
        y += 0.002 * (noise - np.convolve(noise, np.ones(64) / 64, mode="same"))
    elif kind == "loud":  # 10 s at 16 kHz: loud bass and clicks (log-mel values near float16's range)
        sr, n = 16000, 10 * 16000
        t = np.arange(n) / sr
        y = 0.9 * np.sin(2 * np.pi * 55 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.3 * t))
        y[:: sr // 4] += 0.5
        y += 0.05 * np.random.default_rng(3).standard_normal(n)
    else:
        raise ValueError(kind)
    return np.clip(np.round(y * 32767 * 0.95), -32768, 32767).astype(np.int16), sr


CLIPS = ("chords", "chirp", "loud")
# --- end of the shared block -------------------------------------------------------------------------------------


def build(model: str, n_frames: int):
    import tensorflow as tf

    tf.compat.v1.disable_eager_execution()
    from musicnn import configuration as config
    from musicnn import models

    labels = config.MSD_LABELS if "MSD" in model else config.MTT_LABELS
    graph = tf.Graph()
    with graph.as_default(), tf.name_scope("model"):
        x = tf.compat.v1.placeholder(tf.float32, [None, n_frames, config.N_MELS])
        is_training = tf.compat.v1.placeholder(tf.bool)
        if "vgg" in model:
            y, *pools = models.define_model(x, is_training, model, len(labels))
            outputs = {"taggram": tf.nn.sigmoid(y), **{f"pool{i + 1}": p for i, p in enumerate(pools)}}
        else:
            outputs = _musicnn_outputs(tf, models.define_model(x, is_training, model, len(labels)))
        sess = tf.compat.v1.Session(graph=graph)
        saver = tf.compat.v1.train.Saver()
        import musicnn

        saver.restore(sess, os.path.dirname(musicnn.__file__) + "/" + model + "/")  # raises if it fails
    return sess, x, is_training, outputs, labels


def _musicnn_outputs(tf, graph_outputs) -> dict:
    y, timbral, temporal, cnn1, cnn2, cnn3, mean_pool, max_pool, penultimate = graph_outputs
    return {
        "taggram": tf.nn.sigmoid(y),
        "timbral": timbral,
        "temporal": temporal,
        "cnn1": tf.squeeze(cnn1, [3]),
        "cnn2": tf.squeeze(cnn2, [3]),
        "cnn3": tf.squeeze(cnn3, [3]),
        "mean_pool": mean_pool,
        "max_pool": max_pool,
        "penultimate": penultimate,
    }


def _extractor(mx, model: str) -> tuple:
    """The original ``musicnn.extractor.extractor`` on the chords clip (it rebuilds its own graph)."""
    import soundfile as sf
    import tensorflow as tf

    tf.compat.v1.reset_default_graph()
    pcm, sr = synth_clip("chords")
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "chords.wav"
        sf.write(wav, pcm, sr, subtype="PCM_16")
        return mx.extractor(str(wav), model=model, extract_features=True)


def make_musicnn(clips: dict, n_frames: int, models: list[str], meta: dict) -> None:
    from musicnn import extractor as mx

    for model in models:
        sess, x, is_training, outputs, labels = build(model, n_frames)
        arrays = {}
        for kind in CLIPS:
            res = sess.run(outputs, feed_dict={x: clips[kind].astype(np.float32), is_training: False})
            for name in ("taggram", "mean_pool", "max_pool", "penultimate"):
                arrays[f"{kind}_{name}"] = res[name].astype(np.float32)
            for name in ("timbral", "temporal", "cnn1", "cnn2", "cnn3"):
                arrays[f"{kind}_{name}_rows"] = res[name][:, FRAME_ROWS, :].astype(np.float32)
        sess.close()
        # The original extractor on one clip: its taggram/mean_pool/max_pool must equal ours.
        taggram, tags, feats = _extractor(mx, model)
        agrees = {
            "taggram": float(np.abs(taggram - arrays["chords_taggram"]).max()),
            "mean_pool": float(np.abs(feats["mean_pool"] - arrays["chords_mean_pool"]).max()),
            "max_pool": float(np.abs(feats["max_pool"] - arrays["chords_max_pool"]).max()),
            "penultimate (extractor quirk: repeats patch 1)": float(
                np.abs(feats["penultimate"] - arrays["chords_penultimate"]).max()
            ),
        }
        meta[f"{model}_extractor_max_abs_diff"] = agrees
        meta[f"{model}_tags"] = list(tags)
        np.savez_compressed(OUT / f"{model}.npz", **arrays)


def vgg_sample_index(shape: tuple[int, ...], layer: int) -> np.ndarray:
    """Flat (time, band, channel) positions kept of one patch's pool map: seeded random ones plus the corners."""
    t, f, c = shape
    rng = np.random.default_rng(100 + layer)
    picks = set(rng.choice(t * f * c, VGG_SAMPLES, replace=False).tolist())
    for tt, ff in ((0, 0), (0, f - 1), (t - 1, 0), (t - 1, f - 1)):  # where 'same' padding and 'valid' pooling act
        picks.update((tt * f + ff) * c + ch for ch in range(0, c, 16))
    return np.array(sorted(picks), dtype=np.int32)


def make_vgg(clips: dict, n_frames: int, models: list[str], meta: dict) -> None:
    from musicnn import extractor as mx

    for model in models:
        sess, x, is_training, outputs, labels = build(model, n_frames)
        arrays: dict[str, np.ndarray] = {}
        full: dict[str, dict[str, np.ndarray]] = {}
        for kind in CLIPS:
            res = sess.run(outputs, feed_dict={x: clips[kind].astype(np.float32), is_training: False})
            full[kind] = res
            arrays[f"{kind}_taggram"] = res["taggram"].astype(np.float32)
            arrays[f"{kind}_pool5"] = res["pool5"].astype(np.float32)
            for i, name in enumerate(VGG_POOLS):
                a = res[name].astype(np.float32)  # (n, T, F, 128)
                idx = vgg_sample_index(a.shape[1:], i + 1)
                arrays[f"{name}_index"] = idx
                arrays[f"{kind}_{name}_mean"] = a.mean(axis=(1, 2), dtype=np.float64).astype(np.float32)
                arrays[f"{kind}_{name}_max"] = a.max(axis=(1, 2))
                arrays[f"{kind}_{name}_sample"] = a.reshape(a.shape[0], -1)[:, idx]
        sess.close()
        shapes = {k: list(v.shape[1:]) for k, v in full["chords"].items()}
        # The original extractor (one patch per sess.run): right for the VGG models, but it squeezes each patch's
        # pool maps (batch of one) and concatenates them along the time axis.
        taggram, tags, feats = _extractor(mx, model)
        ref = full["chords"]
        agrees = {"taggram": float(np.abs(taggram - ref["taggram"]).max())}
        for name in (*VGG_POOLS, "pool5"):
            stacked = np.concatenate(list(ref[name]), axis=0)  # the extractor's layout
            agrees[name] = float(np.abs(feats[name] - stacked.squeeze()).max())
            agrees[f"{name} extractor shape"] = list(feats[name].shape)
        meta[model] = {
            "tags": list(tags),
            "shapes_per_patch": shapes,
            "extractor_max_abs_diff": agrees,
            "largest_abs": {
                k: float(np.abs(np.concatenate([full[c][k].ravel() for c in CLIPS])).max()) for k in shapes
            },
        }
        np.savez_compressed(OUT / f"{model}.npz", **arrays)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", choices=MODELS + VGG_MODELS, default=list(MODELS + VGG_MODELS))
    args = ap.parse_args(argv)
    import librosa
    import soundfile as sf
    import tensorflow as tf
    from musicnn import extractor as mx

    n_frames = librosa.time_to_frames(3, sr=16000, n_fft=512, hop_length=256) + 1
    OUT.mkdir(parents=True, exist_ok=True)
    clips, meta = {}, {"n_frames": int(n_frames), "frame_rows": FRAME_ROWS, "clips": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in CLIPS:
            pcm, sr = synth_clip(kind)
            wav = Path(tmp) / f"{kind}.wav"
            sf.write(wav, pcm, sr, subtype="PCM_16")
            batch, spec = mx.batch_data(str(wav), n_frames, n_frames)
            # musicnn rounds the mel power to float16, then (numpy 1.x value-based casting: 10000 → uint16,
            # uint16 with float16 → float32) takes log10(10000·x + 1) in float32.
            assert batch.dtype == np.float32, batch.dtype
            clips[kind] = batch
            meta["clips"][kind] = {
                "sr": sr,
                "n_samples": len(pcm),
                "sha256_int16": hashlib.sha256(pcm.tobytes()).hexdigest(),
                "n_patches": int(batch.shape[0]),
                "spec_frames": int(spec.shape[0]),
                "spec_dtype": str(batch.dtype),
                "finite": bool(np.isfinite(batch).all()),
            }
    import musicnn

    versions = {
        "tensorflow": tf.__version__,
        "librosa": librosa.__version__,
        "numpy": np.__version__,
        "musicnn": getattr(musicnn, "__version__", "0.1.0"),
        "python": sys.version.split()[0],
    }
    musicnn_models = [m for m in MODELS if m in args.models]
    vgg_models = [m for m in VGG_MODELS if m in args.models]
    if musicnn_models:
        np.savez_compressed(OUT / "clips.npz", **{f"patches_{k}": v for k, v in clips.items()})
        if (OUT / "meta.json").is_file() and len(musicnn_models) < len(MODELS):
            meta = {**json.loads((OUT / "meta.json").read_text()), **meta}  # keep the other model's entries
        make_musicnn(clips, n_frames, musicnn_models, meta)
        meta["versions"] = versions
        (OUT / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
        print(json.dumps({k: v for k, v in meta.items() if "extractor" in k or k == "clips"}, indent=1))
    else:  # the VGG references are made from the committed patches: they must still be musicnn's own
        with np.load(OUT / "clips.npz") as z:
            for kind in CLIPS:
                np.testing.assert_array_equal(z[f"patches_{kind}"], clips[kind])
    if vgg_models:
        vmeta_path = OUT / "vgg_meta.json"
        vmeta = json.loads(vmeta_path.read_text()) if vmeta_path.is_file() else {}
        vmeta.update(n_frames=int(n_frames), samples_per_patch=VGG_SAMPLES, clips=CLIPS)
        make_vgg(clips, n_frames, vgg_models, vmeta)
        vmeta["versions"] = versions
        vmeta_path.write_text(json.dumps(vmeta, indent=1) + "\n")
        print(json.dumps({m: vmeta[m]["extractor_max_abs_diff"] for m in vgg_models}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
