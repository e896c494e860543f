"""musicnn (Pons & Serra, 2019) in PyTorch with its published weights — no TensorFlow.

- :func:`embed` — taggram and intermediate features per 3-s patch of a song, for any of :data:`MODEL_NAMES`:
  ``MSD_musicnn`` (default), ``MTT_musicnn`` and the VGG baselines ``MSD_vgg``, ``MTT_vgg``;
- :mod:`.weights` — fetch the ``musicnn==0.1.0`` sdist once, convert its checkpoints to safetensors in the cache;
- :mod:`.bundle` — a reader of TensorFlow's checkpoint bundle format;
- :mod:`.frontend` — musicnn's log-mel patches; :mod:`.model` — the musicnn network; :mod:`.vgg` — the VGG one.

Importing this package is light: numpy and torch are imported inside the functions.
"""

from __future__ import annotations

from trackscope.audio.musicnn.embed import MODEL_NAMES, embed, embed_patches, get_model, model_outputs

__all__ = ["MODEL_NAMES", "embed", "embed_patches", "get_model", "model_outputs"]
