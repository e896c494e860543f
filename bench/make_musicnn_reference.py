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
"""

from __future__ import annotations

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
        y, timbral, temporal, cnn1, cnn2, cnn3, mean_pool, max_pool, penultimate = models.define_model(
            x, is_training, model, len(labels)
        )
        outputs = {
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
        sess = tf.compat.v1.Session(graph=graph)
        saver = tf.compat.v1.train.Saver()
        import musicnn

        saver.restore(sess, os.path.dirname(musicnn.__file__) + "/" + model + "/")  # raises if it fails
    return sess, x, is_training, outputs, labels


def main() -> int:
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
        np.savez_compressed(OUT / "clips.npz", **{f"patches_{k}": v for k, v in clips.items()})

        for model in MODELS:
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
            tf.compat.v1.reset_default_graph()
            pcm, sr = synth_clip("chords")
            with tempfile.TemporaryDirectory() as tmp2:
                wav = Path(tmp2) / "chords.wav"
                sf.write(wav, pcm, sr, subtype="PCM_16")
                taggram, tags, feats = mx.extractor(str(wav), model=model, extract_features=True)
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
    import musicnn

    meta["versions"] = {
        "tensorflow": tf.__version__,
        "librosa": librosa.__version__,
        "numpy": np.__version__,
        "musicnn": getattr(musicnn, "__version__", "0.1.0"),
        "python": sys.version.split()[0],
    }
    (OUT / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
    print(json.dumps({k: v for k, v in meta.items() if "extractor" in k or k == "clips"}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
