"""The ORIGINAL musicnn 0.1.0 on TensorFlow, timed per clip — run by bench/musicnn_speed.py under /tmp/tfref.

Usage: ``TF_USE_LEGACY_KERAS=1 /tmp/tfref/bin/python bench/_musicnn_tf_worker.py MODEL THREADS OUT_DIR WARMUP_CLIP``
then one audio path per line on stdin.

Builds the graph once (musicnn's ``extractor()`` would rebuild it for every file, ~3 s each), warms it up on
WARMUP_CLIP and prints ``ready``; then for every path read from stdin it times musicnn's own ``batch_data`` (librosa
load + spectrogram + patches) and one ``sess.run`` over all of the clip's patches, writes ``OUT_DIR/<n>.npz``
(patches and outputs) and prints one JSON line of timings — so the caller can interleave clips with its own runs.
"""

from __future__ import annotations

import json
import os
import sys
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main() -> int:
    model, threads, out_dir, warmup = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    import numpy as np
    import tensorflow as tf

    tf.compat.v1.disable_eager_execution()
    import musicnn
    from musicnn import configuration as config
    from musicnn import extractor as mx
    from musicnn import models

    labels = config.MSD_LABELS if "MSD" in model else config.MTT_LABELS
    with tf.name_scope("model"):
        x = tf.compat.v1.placeholder(tf.float32, [None, 187, config.N_MELS])
        is_training = tf.compat.v1.placeholder(tf.bool)
        if "vgg" in model:  # the VGG baselines return the logits and pool1..pool5
            y, *pools = models.define_model(x, is_training, model, len(labels))
            fetch = {"taggram": tf.nn.sigmoid(y), **{f"pool{i + 1}": p for i, p in enumerate(pools)}}
        else:
            y, _, _, _, _, _, mean_pool, max_pool, penultimate = models.define_model(x, is_training, model, len(labels))
            fetch = {"taggram": tf.nn.sigmoid(y), "mean_pool": mean_pool, "max_pool": max_pool}
            fetch["penultimate"] = penultimate
    cfg = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=threads, inter_op_parallelism_threads=threads)
    sess = tf.compat.v1.Session(config=cfg)
    tf.compat.v1.train.Saver().restore(sess, os.path.dirname(musicnn.__file__) + "/" + model + "/")
    # warm-up: librosa's first call and TF's first run pay one-off costs
    batch, _ = mx.batch_data(warmup, 187, 187)
    sess.run(fetch, feed_dict={x: batch, is_training: False})
    print("ready", flush=True)
    for n, line in enumerate(sys.stdin):
        clip = line.strip()
        t0 = time.perf_counter()
        batch, _ = mx.batch_data(clip, 187, 187)
        t1 = time.perf_counter()
        out = sess.run(fetch, feed_dict={x: batch, is_training: False})
        t2 = time.perf_counter()
        path = os.path.join(out_dir, f"{n}.npz")
        np.savez(path, patches=batch, **out)
        print(json.dumps({"spectrogram_s": t1 - t0, "model_s": t2 - t1, "npz": path}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
