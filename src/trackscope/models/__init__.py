"""Models: scikit-learn families (``tabular``, ``preprocess``), PyTorch networks (``nets``, ``training``), splits
and the popularity threshold rule (``splits``), novelty scores (``novelty``) and safe persistence (``persist``)."""
