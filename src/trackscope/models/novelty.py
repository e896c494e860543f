"""How unlike its training data an input is: a novelty score in [0, 1] that travels with a model.

A classifier trained on 540 music clips still returns a confident mood for white noise, a sine tone or speech: its
probabilities say which known class is nearest, not whether the input resembles anything it learnt from. This module
fits a small density-free description of the training features and scores new inputs against it:

- standardise the features (training mean and standard deviation), project on the first ``k`` principal components;
- distance ``D = sqrt(mean(z²) + r² / r̄²)``: ``z`` the whitened component scores (the Mahalanobis distance inside
  the principal subspace, per component) and ``r`` the norm of what the components leave out, relative to its mean
  on held-out training rows ``r̄`` — both terms are ≈ 1 for typical inputs, so a clip far off the subspace and a clip
  far along it both score high;
- the reference distribution of ``D`` is measured **out of fold** (fit on 4/5 of the training rows, score the other
  fifth), so it describes *unseen* inputs of the training kind, not the rows the projection was fitted on;
- ``novelty(x)`` is the fraction of those held-out reference distances below ``D(x)``: 0.5 is a median training-like
  input, 1.0 farther than every held-out training row. :data:`UNUSUAL` (0.99) is the flag threshold: by
  construction about 1 % of genuinely training-like inputs are flagged.

Everything is a few float arrays (stored with safetensors, no code on load) and the fit takes a seed.
"""

from __future__ import annotations

from typing import Any

N_COMPONENTS = 5
FOLDS = 5
UNUSUAL = 0.99  # novelty above this: farther from the training data than 99 % of held-out training rows
ARRAYS = ("mean", "scale", "components", "sd", "resid", "reference")


def _fit_projection(x: Any, k: int) -> dict[str, Any]:
    import numpy as np

    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale = np.where(scale > 1e-8 * max(float(scale.max()), 1e-30), scale, 1.0)
    xs = (x - mean) / scale
    _, s, vt = np.linalg.svd(xs, full_matrices=False)
    k = max(1, min(k, vt.shape[0] - 1 if vt.shape[0] > 1 else 1))
    sd = s[:k] / np.sqrt(max(x.shape[0] - 1, 1))
    sd = np.where(sd > 1e-12, sd, 1e-12)
    return {"mean": mean, "scale": scale, "components": vt[:k], "sd": sd}


def _parts(p: dict[str, Any], x: Any) -> tuple[Any, Any]:
    """(mean of squared whitened scores, squared residual norm) per row."""
    import numpy as np

    xs = (np.asarray(x, dtype=np.float64) - p["mean"]) / p["scale"]
    z = xs @ p["components"].T
    resid = np.maximum((xs * xs).sum(axis=1) - (z * z).sum(axis=1), 0.0)
    return ((z / p["sd"]) ** 2).mean(axis=1), resid


def fit(x: Any, *, seed: int = 0, n_components: int = N_COMPONENTS, folds: int = FOLDS) -> dict[str, Any]:
    """Novelty description of training rows ``x`` (n × d); a dict of float64 arrays (see :data:`ARRAYS`)."""
    import numpy as np
    from sklearn.model_selection import KFold

    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2 * folds:
        raise ValueError(f"need at least {2 * folds} training rows to describe novelty, got {x.shape[0]}")
    inside = np.empty(x.shape[0])
    resid = np.empty(x.shape[0])
    for train, held in KFold(folds, shuffle=True, random_state=seed).split(x):
        p = _fit_projection(x[train], n_components)
        inside[held], resid[held] = _parts(p, x[held])
    p = _fit_projection(x, n_components)
    r_mean = max(float(resid.mean()), 1e-12)
    p["resid"] = np.array([r_mean])
    p["reference"] = np.sort(np.sqrt(inside + resid / r_mean))
    return {k: np.asarray(v, dtype=np.float64) for k, v in p.items()}


def distance(params: dict[str, Any], x: Any) -> Any:
    """The distance ``D`` of each row of ``x`` (n × d) from the training data (≈ 1 for typical rows)."""
    import numpy as np

    inside, resid = _parts(params, np.atleast_2d(x))
    return np.sqrt(inside + resid / float(params["resid"][0]))


def score(params: dict[str, Any], x: Any) -> Any:
    """Novelty in [0, 1] of each row of ``x``: the fraction of held-out training rows closer to the training data."""
    import numpy as np

    ref = np.asarray(params["reference"])
    return np.searchsorted(ref, distance(params, x), side="right") / len(ref)


def check(params: dict[str, Any], n_features: int) -> None:
    """Raise ValueError when stored arrays are missing or do not fit ``n_features`` inputs."""
    missing = [k for k in ARRAYS if k not in params]
    if missing:
        raise ValueError(f"novelty arrays missing: {missing}")
    if params["mean"].shape != (n_features,) or params["components"].shape[1] != n_features:
        raise ValueError("novelty arrays do not match the model's features")
