"""A classifier head as plain arrays: predictions without importing scikit-learn or skops.

Loading a ``pipeline.skops`` costs ~2.5 s before the first prediction: skops imports every scikit-learn estimator
(and pytest, via scikit-learn's testing utilities) to build its trusted-type list, and scikit-learn itself ~1.5 s.
For one song that is most of the wait. The heads trackscope trains for audio mood — near-constant filter,
standardisation, optional PCA, then logistic regression or an MLP — are a few matrix products, so they are also
saved as safetensors arrays + a JSON spec (no code runs when either is read) and evaluated here with numpy.

:func:`export` only succeeds for those step types, and only when the arrays reproduce the pipeline's probabilities on
the given rows to ~1e-9 (float64 throughout); otherwise the model keeps using its skops pipeline.
"""

from __future__ import annotations

from typing import Any

SPEC_VERSION = 1
# Probabilities from the arrays must match scikit-learn's to this (both float64; only summation order differs).
EXPORT_TOL = 1e-9


def _steps(pipeline: Any) -> list[tuple[str, Any]]:
    return list(getattr(pipeline, "steps", [("clf", pipeline)]))


def export(pipeline: Any, x_check: Any) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """``(arrays, spec)`` describing ``pipeline``, or None when a step has no portable form or the portable
    probabilities differ from ``pipeline.predict_proba(x_check)`` by more than :data:`EXPORT_TOL`."""
    import numpy as np

    arrays: dict[str, Any] = {}
    ops: list[dict[str, Any]] = []
    for i, (_, step) in enumerate(_steps(pipeline)):
        kind = type(step).__name__
        key = f"s{i}"
        if kind == "DropNearConstant":
            arrays[f"{key}_keep"] = np.flatnonzero(step.keep_).astype(np.int64)
            arrays["center"] = np.asarray(step.center_, dtype=np.float64)
            ops.append({"op": "select", "key": key})
        elif kind == "StandardScaler":
            n = int(step.n_features_in_)
            mean = step.mean_ if step.with_mean and step.mean_ is not None else np.zeros(n)
            scale = step.scale_ if step.with_std and step.scale_ is not None else np.ones(n)
            arrays[f"{key}_mean"], arrays[f"{key}_scale"] = np.asarray(mean, float), np.asarray(scale, float)
            ops.append({"op": "standardize", "key": key})
        elif kind == "PCA":
            arrays[f"{key}_mean"] = np.asarray(step.mean_, float)
            arrays[f"{key}_components"] = np.asarray(step.components_, float)
            if step.whiten:
                arrays[f"{key}_scale"] = np.sqrt(np.asarray(step.explained_variance_, float))
            ops.append({"op": "pca", "key": key, "whiten": bool(step.whiten)})
        elif kind == "LogisticRegression":
            arrays[f"{key}_coef"] = np.asarray(step.coef_, float)
            arrays[f"{key}_intercept"] = np.asarray(step.intercept_, float)
            ops.append({"op": "logreg", "key": key})
        elif kind == "MLPClassifier":
            if step.activation not in _ACTIVATIONS or step.out_activation_ not in ("softmax", "logistic"):
                return None
            for j, (w, b) in enumerate(zip(step.coefs_, step.intercepts_, strict=True)):
                arrays[f"{key}_w{j}"], arrays[f"{key}_b{j}"] = np.asarray(w, float), np.asarray(b, float)
            ops.append(
                {"op": "mlp", "key": key, "layers": len(step.coefs_), "activation": step.activation,
                 "out": step.out_activation_}
            )  # fmt: skip
        else:
            return None
    if not ops or ops[-1]["op"] not in ("logreg", "mlp"):
        return None
    spec = {"version": SPEC_VERSION, "ops": ops, "classes": [str(c) for c in pipeline.classes_]}
    x_check = np.asarray(x_check, dtype=np.float64)
    if x_check.size:
        head = PortableHead(arrays, spec)
        if float(np.abs(head.predict_proba(x_check) - pipeline.predict_proba(x_check)).max()) > EXPORT_TOL:
            return None
    return arrays, spec


def _relu(z: Any) -> Any:
    import numpy as np

    return np.maximum(z, 0.0)


def _logistic(z: Any) -> Any:
    import numpy as np

    return 1.0 / (1.0 + np.exp(-z))


def _tanh(z: Any) -> Any:
    import numpy as np

    return np.tanh(z)


def _identity(z: Any) -> Any:
    return z


_ACTIVATIONS = {"relu": _relu, "logistic": _logistic, "tanh": _tanh, "identity": _identity}


def _softmax(z: Any) -> Any:
    import numpy as np

    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class PortableHead:
    """A head read from arrays + spec: ``classes_``, ``predict_proba(X)``, ``predict(X)`` and ``center_`` (training
    means of every input column, for explanations), like the scikit-learn pipeline it was exported from."""

    def __init__(self, arrays: dict[str, Any], spec: dict[str, Any]) -> None:
        import numpy as np

        if spec.get("version") != SPEC_VERSION:
            raise ValueError(f"unsupported head spec version {spec.get('version')!r}")
        self.arrays = {k: np.asarray(v) for k, v in arrays.items()}
        self.spec = spec
        self.classes_ = np.asarray(spec["classes"], dtype=object)
        self.center_ = self.arrays.get("center")

    def predict_proba(self, X: Any) -> Any:  # noqa: N803 (scikit-learn's name)
        import numpy as np

        a = self.arrays
        z = np.asarray(X, dtype=np.float64)
        if z.ndim != 2:
            raise ValueError(f"expected a 2-D array, got shape {z.shape}")
        for op in self.spec["ops"]:
            k = op["key"]
            if op["op"] == "select":
                z = z[:, a[f"{k}_keep"]]
            elif op["op"] == "standardize":
                z = (z - a[f"{k}_mean"]) / a[f"{k}_scale"]
            elif op["op"] == "pca":
                z = (z - a[f"{k}_mean"]) @ a[f"{k}_components"].T
                if op["whiten"]:
                    z = z / a[f"{k}_scale"]
            elif op["op"] == "logreg":
                logits = z @ a[f"{k}_coef"].T + a[f"{k}_intercept"]
                if logits.shape[1] == 1:
                    p = _logistic(logits[:, 0])
                    return np.column_stack([1.0 - p, p])
                return _softmax(logits)
            elif op["op"] == "mlp":
                act = _ACTIVATIONS[op["activation"]]
                for j in range(op["layers"]):
                    z = z @ a[f"{k}_w{j}"] + a[f"{k}_b{j}"]
                    if j < op["layers"] - 1:
                        z = act(z)
                if op["out"] == "logistic":
                    p = _logistic(z[:, 0]) if z.shape[1] == 1 else _logistic(z)
                    return np.column_stack([1.0 - p, p]) if z.shape[1] == 1 else p
                return _softmax(z)
        raise ValueError("head spec ends without a classifier")

    def predict(self, X: Any) -> Any:  # noqa: N803
        return self.classes_[self.predict_proba(X).argmax(axis=1)]
