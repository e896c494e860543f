"""musicnn (Pons & Serra, 2019) in PyTorch with its published weights — no TensorFlow.

- :func:`embed` — taggram and intermediate features per 3-s patch of a song;
- :mod:`.weights` — fetch the ``musicnn==0.1.0`` sdist once, convert its checkpoints to safetensors in the cache;
- :mod:`.bundle` — a reader of TensorFlow's checkpoint bundle format;
- :mod:`.frontend` — musicnn's log-mel patches; :mod:`.model` — the network.

Importing this package is light: numpy and torch are imported inside the functions.
"""

from __future__ import annotations

from trackscope.audio.musicnn.embed import embed, embed_patches, get_model

__all__ = ["embed", "embed_patches", "get_model"]
