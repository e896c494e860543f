"""The obvious peer of ``trackscope analyze``, run by bench/analyze_speed.py in its own venv (TensorFlow, numpy 1.x).

Usage (one process; the parent starts one or several)::

    TF_USE_LEGACY_KERAS=1 PEER_PYTHON bench/_analyze_speed_peer.py MODEL THREADS LIST_FILE WARMUP_CLIP

The pipeline, used well: musicnn 0.1.0's own input pipeline ``batch_data`` (``librosa.load(path, sr=16000)``,
mel spectrogram, 3-s patches without overlap, as ``musicnn.extractor.extractor()`` cuts them), musicnn's graph
(``models.define_model`` + ``Saver.restore``) built **once** and reused for every clip (``extractor()`` would rebuild
and restore it for every file, ~3 s each), one ``sess.run`` per clip over all its patches, the penultimate layer and
the taggram mean-pooled over patches (250 numbers a song), then a scikit-learn ``StandardScaler`` +
``LogisticRegression`` ``predict_proba`` over the songs. The classifier is fitted once, at start, on random data of
that width and 4 classes: only its inference cost matters here. TensorFlow runs with THREADS intra- and inter-op
threads (the parent also sets OMP_NUM_THREADS).

Protocol: after building everything and running WARMUP_CLIP once (librosa's and TensorFlow's first-call costs), it
prints ``{"ready": <time.time()>}``; on the line ``go`` from stdin it analyses every path in LIST_FILE (one a line)
and prints one JSON line: wall-clock times, CPU seconds, songs done, failures, and per song the top MSD/MTT tag (for
the parent's sanity check; nothing is written to disk).
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

N_CLASSES = 4  # the four quadrants of the mood plane, like builtin:mood


def cpu_seconds() -> float:
    """User + system CPU seconds of this process (all its threads) so far."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def main() -> int:
    model, threads, list_file, warmup = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    with open(list_file, encoding="utf-8") as fh:
        paths = [line.strip() for line in fh if line.strip()]

    import numpy as np
    import tensorflow as tf

    tf.compat.v1.disable_eager_execution()
    import musicnn
    from musicnn import configuration as config
    from musicnn import extractor as mx
    from musicnn import models
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    labels = config.MSD_LABELS if "MSD" in model else config.MTT_LABELS
    with tf.name_scope("model"):
        x = tf.compat.v1.placeholder(tf.float32, [None, 187, config.N_MELS])
        is_training = tf.compat.v1.placeholder(tf.bool)
        y, _, _, _, _, _, _mean_pool, _max_pool, penultimate = models.define_model(x, is_training, model, len(labels))
        fetch = {"taggram": tf.nn.sigmoid(y), "penultimate": penultimate}
    cfg = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=threads, inter_op_parallelism_threads=threads)
    sess = tf.compat.v1.Session(config=cfg)
    tf.compat.v1.train.Saver().restore(sess, os.path.dirname(musicnn.__file__) + "/" + model + "/")

    def features(path: str) -> np.ndarray:
        batch, _ = mx.batch_data(path, 187, 187)  # librosa.load(sr=16000) + mel + 3-s patches, as extractor() does
        out = sess.run(fetch, feed_dict={x: batch, is_training: False})
        return np.concatenate([out["penultimate"].mean(axis=0), out["taggram"].mean(axis=0)])

    width = features(warmup).shape[0]  # warm-up: librosa's and TensorFlow's first-call costs are paid here
    rng = np.random.default_rng(0)
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    clf.fit(rng.normal(size=(400, width)), np.arange(400) % N_CLASSES)
    clf.predict_proba(rng.normal(size=(2, width)))
    print(json.dumps({"ready": time.time(), "width": width}), flush=True)

    if sys.stdin.readline().strip() != "go":
        return 1
    t_go, cpu_go = time.time(), cpu_seconds()
    rows, tops, failures = [], {}, []
    for path in paths:
        try:
            f = features(path)
        except Exception as exc:  # noqa: BLE001 — a clip the peer cannot read is counted, like trackscope's failures
            failures.append(f"{path}: {exc}")
            continue
        rows.append(f)
        tops[path] = labels[int(np.argmax(f[-len(labels) :]))]
    proba = clf.predict_proba(np.vstack(rows)) if rows else np.zeros((0, N_CLASSES))
    t_done, cpu_done = time.time(), cpu_seconds()
    ok = bool(np.isfinite(proba).all() and np.allclose(proba.sum(axis=1), 1.0))
    print(
        json.dumps(
            {
                "t_go": t_go,
                "t_done": t_done,
                "cpu_s": cpu_done - cpu_go,
                "songs": len(rows),
                "failures": failures,
                "top_tags": tops,
                "proba_ok": ok,
                "threads": threads,
                "versions": {
                    "tensorflow": tf.__version__,
                    "numpy": np.__version__,
                    "librosa": __import__("librosa").__version__,
                    "scikit-learn": __import__("sklearn").__version__,
                    "musicnn": "0.1.0",
                },
            }
        ),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
