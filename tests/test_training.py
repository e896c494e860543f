"""The torch loop: learns a planted pattern, early-stops on ROC-AUC, resumes to the same weights."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from trackscope.models.nets import Standardize, build
from trackscope.models.training import TrainConfig, fit, predict_proba, roc_auc


def _data(n=160, seed=0, planted=True):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 1, 32, 40)).astype(np.float32)
    y = (np.arange(n) % 2).astype(np.float32)
    rng.shuffle(y)
    if planted:
        x[y == 1, 0, 10:14, ::4] += 1.5  # a rhythmic stripe in one band
    return x, y


def _run(tmp, cfg, interrupt_after=None):
    torch.manual_seed(cfg.seed)
    net = Standardize(build("cnn2", n_mels=32, n_frames=40))
    x, y = _data()

    def stop(epoch, record):
        if interrupt_after is not None and epoch == interrupt_after:
            raise KeyboardInterrupt

    return fit(net, x[:120], y[:120], x[120:], y[120:], config=cfg, checkpoint_dir=tmp, on_epoch_end=stop)


def test_learns_planted_pattern_and_keeps_curves(tmp_path):
    res = _run(tmp_path / "ck", TrainConfig(epochs=4, seed=1, fast=False))
    assert res.best_val_roc_auc > 0.95
    assert [h["epoch"] for h in res.history] == [1, 2, 3, 4]
    for key in ("train_loss", "train_accuracy", "train_roc_auc", "val_loss", "val_accuracy", "val_roc_auc"):
        assert all(np.isfinite(h[key]) for h in res.history)
    x, y = _data(seed=5)
    p = predict_proba(res.net, x, fast=False)
    assert p.shape == (len(y),)
    assert roc_auc(y, p) > 0.95


def test_resume_after_interruption_matches_uninterrupted_run(tmp_path):
    cfg = TrainConfig(epochs=3, seed=3, fast=False, patience=10)
    full = _run(tmp_path / "a", cfg)
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path / "b", cfg, interrupt_after=1)
    state = json.loads((tmp_path / "b" / "state.json").read_text())
    assert state["epoch"] == 1 and "param_groups" in state["optimizer"]
    resumed = _run(tmp_path / "b", cfg)
    assert resumed.resumed_from == 1
    # the resumed run repeats the same float32 steps in this process (rel 1e-6 ≈ 8 EPS32 for the loss's reductions)
    assert [h["val_loss"] for h in resumed.history] == pytest.approx([h["val_loss"] for h in full.history])
    for (k, a), (_, b) in zip(full.net.state_dict().items(), resumed.net.state_dict().items(), strict=True):
        assert torch.equal(a, b), k
    # A checkpoint from a different configuration is not resumed.
    other = _run(tmp_path / "b", TrainConfig(epochs=1, seed=4, fast=False))
    assert other.resumed_from == 0


def test_early_stopping_on_shuffled_labels(tmp_path):
    x, y = _data(planted=False)
    torch.manual_seed(0)
    res = fit(
        build("mlp", n_mels=32, n_frames=40),
        x[:120],
        y[:120],
        x[120:],
        y[120:],
        config=TrainConfig(epochs=30, patience=2, fast=False),
    )
    assert res.stopped_early and len(res.history) < 30
    assert res.best_epoch == 1 + int(np.nanargmax([h["val_roc_auc"] for h in res.history]))


def test_fast_path_runs_and_agrees():
    x, y = _data()
    torch.manual_seed(0)
    net = Standardize(build("cnn1", n_mels=32, n_frames=40))
    fp32 = predict_proba(net, x, fast=False)
    bf16 = predict_proba(net, x, fast=True)
    assert np.abs(fp32 - bf16).max() < 0.05


def test_a_saturated_auc_stops_training_even_while_the_loss_falls():
    """At validation AUC 1.0 nothing can improve in a way that matters: a falling loss keeps the better weights but
    is not progress, so training stops `patience` epochs after the AUC stopped rising (it used to run every epoch)."""
    x, y = _data()
    x[y == 1, 0, 10:14, ::4] += 3.0  # so easy that the AUC saturates in the first epochs
    torch.manual_seed(0)
    res = fit(
        build("mlp", n_mels=32, n_frames=40),
        x[:120],
        y[:120],
        x[120:],
        y[120:],
        config=TrainConfig(epochs=40, patience=3, fast=False),
    )
    aucs = [h["val_roc_auc"] for h in res.history]
    losses = [h["val_loss"] for h in res.history]
    first_top = aucs.index(max(aucs)) + 1
    assert max(aucs) == 1.0 and res.stopped_early
    assert len(res.history) <= first_top + 3  # no more than `patience` epochs after the last real gain
    assert losses[-1] < losses[first_top - 1]  # the loss was still falling: the old tie-break would have gone on
    # the weights kept: the highest AUC, and among equal AUCs the lowest validation loss
    assert res.best_epoch == 1 + min(range(len(aucs)), key=lambda i: (-aucs[i], losses[i]))
