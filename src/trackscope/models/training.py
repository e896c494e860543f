"""The torch training loop of the popularity networks.

Adam on binary cross-entropy (with logits), early stopping on validation ROC-AUC with the best weights kept,
seeded and resumable: after every epoch the loop writes a checkpoint (safetensors for the weights and the optimizer's
state tensors, JSON for everything else — nothing is pickled) and a later call with the same ``checkpoint_dir``
carries on from the last finished epoch. Each epoch reseeds from ``(seed, epoch)``, so an interrupted and resumed run
gives the same weights as an uninterrupted one.

Devices: CUDA when present; otherwise the CPU, optionally on the "fast path" (channels_last memory format + bfloat16
autocast), which trains 2.3–3× faster on the team's CPUs (FIELD-NOTES). ``bench/popularity_synthetic.py`` compares
its accuracy with fp32 on the planted-cue task; :data:`FAST_CPU_DEFAULT` records the decision.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from trackscope._torch import exact_float32

# Measured with bench/popularity_synthetic.py (see docs/popularity.md): on the planted-cue task the fast path reached
# the same held-out ROC-AUC as fp32 (CNN1 and CRNN, two seeds each, same curves within an epoch) and trains
# 1.5-2x (CRNN) to 2-5x (CNNs) faster (bench/train_speed.py), so it is the CPU default for convolutional nets.
FAST_CPU_DEFAULT = True

STATE_JSON = "state.json"


# Early stopping: a validation ROC-AUC gain below this is not progress (a 100-clip validation set moves the AUC
# by ~1e-4 for one pair of clips; 1e-3 is ~10 pairs).
MIN_AUC_GAIN = 1e-3


@dataclass
class TrainConfig:
    """Hyperparameters of one training run (all of them end up in the checkpoint and the metrics)."""

    epochs: int = 30
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.0
    patience: int = 5
    seed: int = 0
    device: str | None = None  # None: "cuda" when available, else "cpu"
    fast: bool | None = None  # CPU fast path (channels_last + bf16 autocast); None: FAST_CPU_DEFAULT

    def resolved_device(self) -> str:
        return self.device or ("cuda" if torch.cuda.is_available() else "cpu")

    def resolved_fast(self) -> bool:
        if self.resolved_device() != "cpu":
            return False
        return FAST_CPU_DEFAULT if self.fast is None else bool(self.fast)


@dataclass
class FitResult:
    net: nn.Module
    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    best_val_roc_auc: float = float("nan")
    resumed_from: int = 0  # epochs already done when this call started
    stopped_early: bool = False
    config: dict[str, Any] = field(default_factory=dict)


# --- metrics ---------------------------------------------------------------------------------------------------------


def roc_auc(y: np.ndarray, p: np.ndarray) -> float:
    """ROC-AUC, or NaN when only one class is present."""
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y)
    if len(np.unique(y)) < 2:
        return float("nan")
    return float(roc_auc_score(y, p))


def _bce(y: np.ndarray, p: np.ndarray) -> float:
    p = np.clip(p.astype(np.float64), 1e-7, 1 - 1e-7)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


# --- running the net -------------------------------------------------------------------------------------------------


def _batch(x: Any, idx: np.ndarray, device: str, channels_last: bool) -> torch.Tensor:
    xb = torch.from_numpy(np.ascontiguousarray(x[idx], dtype=np.float32)) if isinstance(x, np.ndarray) else x[idx]
    xb = xb.to(device=device, dtype=torch.float32)
    if channels_last and xb.dim() == 4:
        xb = xb.contiguous(memory_format=torch.channels_last)
    return xb


def _has_conv(net: nn.Module) -> bool:
    """The fast path pays off for convolutions only: on dense nets (MLP, embedding head) bf16 was no faster to train
    and 30 % slower at inference (bench/train_speed.py), so they stay in fp32."""
    return any(isinstance(m, nn.Conv2d) for m in net.modules())


def _autocast(device: str, fast: bool):
    return torch.autocast(device_type="cpu", dtype=torch.bfloat16, enabled=fast and device == "cpu")


def predict_logits(
    net: nn.Module, x: Any, *, batch_size: int = 64, device: str | None = None, fast: bool | None = False
) -> np.ndarray:
    """Raw logits (log-odds of a hit) for an array ``(n, 1, n_mels, frames)`` or ``(n, d)``.

    Inference runs in fp32 by default (``fast=None`` picks the training fast path): bf16 rounds the logits to
    2⁻⁸ steps, which would make predict and explain disagree in the third decimal and quantise occlusion maps."""
    cfg = TrainConfig(device=device, fast=fast)
    dev, fast_ = cfg.resolved_device(), cfg.resolved_fast() and _has_conv(net)
    net = net.to(dev)
    if fast_:
        net = net.to(memory_format=torch.channels_last)
    net.eval()
    out = []
    with torch.no_grad(), _autocast(dev, fast_), exact_float32(dev):
        for start in range(0, len(x), batch_size):
            idx = np.arange(start, min(start + batch_size, len(x)))
            out.append(net(_batch(x, idx, dev, fast_)).float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)


def predict_proba(
    net: nn.Module, x: Any, *, batch_size: int = 64, device: str | None = None, fast: bool | None = False
) -> np.ndarray:
    """Hit probabilities (sigmoid of the logits) for an array ``(n, 1, n_mels, frames)`` or ``(n, d)``."""
    logits = predict_logits(net, x, batch_size=batch_size, device=device, fast=fast)
    return (1.0 / (1.0 + np.exp(-logits.astype(np.float64)))).astype(np.float32)


# --- checkpoints -----------------------------------------------------------------------------------------------------


def _atomic_save_tensors(tensors: dict[str, torch.Tensor], path: Path) -> None:
    from safetensors.torch import save_file

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _optimizer_to_files(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split an optimizer state into tensors (for safetensors) and a JSON-able remainder."""
    sd = opt.state_dict()
    tensors, scalars = {}, {}
    for pid, entries in sd["state"].items():
        for key, value in entries.items():
            if isinstance(value, torch.Tensor):
                tensors[f"opt.{pid}.{key}"] = value.reshape(-1) if value.dim() == 0 else value
                scalars.setdefault(str(pid), {})[key] = {"tensor": True, "scalar": value.dim() == 0}
            else:
                scalars.setdefault(str(pid), {})[key] = {"value": value}
    return tensors, {"param_groups": sd["param_groups"], "state": scalars}


def _optimizer_from_files(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    state: dict[int, dict[str, Any]] = {}
    for pid, entries in meta["state"].items():
        for key, info in entries.items():
            if info.get("tensor"):
                t = tensors[f"opt.{pid}.{key}"]
                state.setdefault(int(pid), {})[key] = t.reshape(()) if info.get("scalar") else t
            else:
                state.setdefault(int(pid), {})[key] = info["value"]
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def _write_json_atomic(path: Path, obj: Any) -> None:
    from trackscope._json import write_json_atomic

    write_json_atomic(path, obj)


def _fingerprint(net: nn.Module, config: TrainConfig, n_train: int, n_val: int, shape: tuple) -> dict[str, Any]:
    cfg = asdict(config)
    cfg.pop("device", None)  # a run may resume on another device
    return {
        "net": type(net).__name__,
        "n_parameters": sum(p.numel() for p in net.parameters()),
        "n_train": n_train,
        "n_val": n_val,
        "input_shape": list(shape),
        "config": cfg,
    }


def _load_checkpoint(folder: Path, fingerprint: dict[str, Any]) -> dict[str, Any] | None:
    state_path = folder / STATE_JSON
    if not state_path.is_file():
        return None
    try:
        state = json.loads(state_path.read_text())
    except ValueError:
        return None
    if state.get("fingerprint") != json.loads(json.dumps(fingerprint)):
        return None  # another run's checkpoint: start afresh
    return state


# --- the loop --------------------------------------------------------------------------------------------------------


def fit(
    net: nn.Module,
    x_train: Any,
    y_train: np.ndarray,
    x_val: Any,
    y_val: np.ndarray,
    *,
    config: TrainConfig | None = None,
    checkpoint_dir: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    on_epoch_end: Callable[[int, dict[str, float]], None] | None = None,
) -> FitResult:
    """Train ``net`` and return it with the weights of its best validation epoch; on a GPU in true float32 with
    deterministic cuDNN (:func:`trackscope._torch.exact_float32`).

    Parameters
    ----------
    net : a module mapping a float32 batch to one logit per row (see :mod:`trackscope.models.nets`).
    x_train, x_val : arrays ``(n, 1, n_mels, frames)`` (any float dtype; converted per batch) or ``(n, d)``.
    y_train, y_val : 0/1 labels.
    config : hyperparameters; see :class:`TrainConfig`.
    checkpoint_dir : where to keep the resumable checkpoint; a later call with the same folder, net shape, data
        sizes and config carries on from the last finished epoch.
    progress : ``(done, total)`` callback over training batches of all epochs.
    on_epoch_end : called with ``(epoch, record)`` after each epoch's checkpoint is on disk.
    """
    config = config or TrainConfig()
    with exact_float32(config.resolved_device(), deterministic=True):
        return _fit(
            net, x_train, y_train, x_val, y_val, config=config, checkpoint_dir=checkpoint_dir, progress=progress,
            on_epoch_end=on_epoch_end,
        )  # fmt: skip


def _fit(
    net: nn.Module,
    x_train: Any,
    y_train: np.ndarray,
    x_val: Any,
    y_val: np.ndarray,
    *,
    config: TrainConfig | None = None,
    checkpoint_dir: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    on_epoch_end: Callable[[int, dict[str, float]], None] | None = None,
) -> FitResult:
    """:func:`fit` inside its precision settings."""
    from safetensors.torch import load_file

    config = config or TrainConfig()
    device, fast = config.resolved_device(), config.resolved_fast() and _has_conv(net)
    y_train = np.asarray(y_train, dtype=np.float32)
    y_val = np.asarray(y_val, dtype=np.float32)
    n = len(y_train)
    net = net.to(device)
    if fast:
        net = net.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    loss_fn = nn.BCEWithLogitsLoss()

    folder = Path(checkpoint_dir) if checkpoint_dir is not None else None
    fingerprint = _fingerprint(net, config, n, len(y_val), tuple(np.shape(x_train)[1:]))
    history: list[dict[str, float]] = []
    best_score, best_epoch, start_epoch, bad_epochs = None, 0, 0, 0
    progress_auc: float | None = None  # the validation AUC of the last epoch that made progress
    best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    state = _load_checkpoint(folder, fingerprint) if folder is not None else None
    if state is not None:
        last = load_file(str(folder / state["last_file"]))
        net.load_state_dict({k[len("model.") :]: v for k, v in last.items() if k.startswith("model.")})
        _optimizer_from_files(opt, last, state["optimizer"])
        best_state = dict(load_file(str(folder / state["best_file"])))
        history, best_epoch = state["history"], state["best_epoch"]
        best_score = [-math.inf if v is None else v for v in state["best_score"]]  # JSON wrote -inf as null
        start_epoch, bad_epochs = state["epoch"], state["bad_epochs"]
        progress_auc = state.get("progress_auc", best_score[0])
    elif folder is not None:  # no usable checkpoint: clear what another run left
        folder.mkdir(parents=True, exist_ok=True)
        for p in [*folder.glob("*.safetensors"), folder / STATE_JSON]:
            p.unlink(missing_ok=True)

    steps_per_epoch = max(1, math.ceil(n / config.batch_size))
    total_steps = steps_per_epoch * config.epochs
    stopped = bad_epochs >= config.patience
    epoch = start_epoch
    while epoch < config.epochs and not stopped:
        torch.manual_seed(config.seed * 100_003 + epoch)  # dropout masks: a function of (seed, epoch) only
        order = np.random.default_rng([config.seed, epoch]).permutation(n)
        net.train()
        losses, probs, seen = [], [], []
        for step, start in enumerate(range(0, n, config.batch_size)):
            idx = order[start : start + config.batch_size]
            xb = _batch(x_train, idx, device, fast)
            yb = torch.from_numpy(y_train[idx]).to(device)
            with _autocast(device, fast):
                logits = net(xb)
            loss = loss_fn(logits.float(), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()) * len(idx))
            probs.append(torch.sigmoid(logits.detach().float()).cpu().numpy())
            seen.append(idx)
            if progress is not None:
                progress(epoch * steps_per_epoch + step + 1, total_steps)
        p_train, y_seen = np.concatenate(probs), y_train[np.concatenate(seen)]
        p_val = predict_proba(net, x_val, batch_size=max(64, config.batch_size), device=device, fast=fast)
        epoch += 1
        record = {
            "epoch": epoch,
            "train_loss": sum(losses) / n,
            "train_accuracy": float(np.mean((p_train >= 0.5) == y_seen)),
            "train_roc_auc": roc_auc(y_seen, p_train),
            "val_loss": _bce(y_val, p_val),
            "val_accuracy": float(np.mean((p_val >= 0.5) == y_val)),
            "val_roc_auc": roc_auc(y_val, p_val),
        }
        history.append(record)
        # ROC-AUC first; validation loss breaks ties (AUC saturates at 1.0 on easy data long before the net is done).
        # The best weights are the best (AUC, −loss) seen; patience counts epochs without *progress*: an AUC gain of
        # more than MIN_AUC_GAIN. A lower loss at an equal AUC (AUC 1.0 on easy data) keeps the better weights but
        # is not progress, so training stops `patience` epochs after the score stops mattering.
        auc = record["val_roc_auc"] if not math.isnan(record["val_roc_auc"]) else -math.inf
        score = [auc, -record["val_loss"]]
        if best_score is None or score > best_score:
            best_score, best_epoch = score, epoch
            best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
        if progress_auc is None or auc > progress_auc + MIN_AUC_GAIN:
            progress_auc, bad_epochs = auc, 0
        else:
            bad_epochs += 1
        stopped = bad_epochs >= config.patience
        if folder is not None:
            _save_checkpoint(
                folder, net, opt, best_state, fingerprint, epoch, history, best_score, best_epoch, bad_epochs,
                progress_auc,
            )  # fmt: skip
        if on_epoch_end is not None:
            on_epoch_end(epoch, record)

    net.load_state_dict(best_state)
    best_auc = history[best_epoch - 1]["val_roc_auc"] if best_epoch else float("nan")
    return FitResult(
        net=net,
        history=history,
        best_epoch=best_epoch,
        best_val_roc_auc=best_auc,
        resumed_from=start_epoch,
        stopped_early=stopped,
        config={**asdict(config), "device": device, "fast": fast},
    )


def _save_checkpoint(
    folder, net, opt, best_state, fingerprint, epoch, history, best_score, best_epoch, bad_epochs, progress_auc
):
    """Write ``last-E`` and ``best-E`` tensors, then ``state.json`` pointing at them, then drop older files.

    Each file is renamed into place, and the JSON that names the tensor files is written last, so a crash at any
    instant leaves a consistent checkpoint (the previous one or this one).
    """
    opt_tensors, opt_meta = _optimizer_to_files(opt)
    tensors = {f"model.{k}": v for k, v in net.state_dict().items()}
    tensors.update(opt_tensors)
    tensors["rng.torch"] = torch.get_rng_state()
    last_file, best_file = f"last-{epoch}.safetensors", f"best-{best_epoch}.safetensors"
    _atomic_save_tensors(tensors, folder / last_file)
    if not (folder / best_file).exists():
        _atomic_save_tensors(best_state, folder / best_file)
    _write_json_atomic(
        folder / STATE_JSON,
        {
            "fingerprint": fingerprint,
            "epoch": epoch,
            "history": history,
            "best_score": best_score,
            "best_epoch": best_epoch,
            "bad_epochs": bad_epochs,
            "progress_auc": None if progress_auc is None or math.isinf(progress_auc) else progress_auc,
            "last_file": last_file,
            "best_file": best_file,
            "optimizer": opt_meta,
            "rng": "each epoch reseeds torch from seed * 100003 + epoch and shuffles with default_rng([seed, epoch])",
        },
    )
    for p in folder.glob("*.safetensors"):
        if p.name not in (last_file, best_file):
            p.unlink(missing_ok=True)
