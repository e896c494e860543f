"""Fine-tune musicnn (MSD) for mood on the 4Q emotion clips, scored by artist-grouped 5-fold CV (an experiment).

Issue #4: frozen musicnn embeddings + a classifier head reach 0.718 macro-F1 (artist-grouped CV,
``bench/train_builtin_mood.py``). This bench tries fine-tuning. To keep it affordable on a CPU the front end
(timbral + temporal convolutions, most of the arithmetic) stays frozen: its (561 × 187) map is computed once for
every 3-s patch at a hop of ``--hop`` frames (overlapping patches = random crop offsets) and kept as a float16
memmap under ``--cache``. Trainable copies of the mid end (3 residual 1-D convs) and back end (pooling → dense 200
→ new 4-class head) are built from the raw published weights (plain convolutions, batch norms with their moving
statistics frozen but affine parameters trainable) and checked against trackscope's inference model first.

Variants: ``a`` back end only (mid end frozen: its pooled output per patch is precomputed), ``b`` mid + back end,
``c`` the average of a fine-tuned variant's clip probabilities with the frozen-feature logistic regression on
trackscope's cached clip features (the 0.718 baseline head), and ``logreg`` that baseline itself on the same folds.
Clip prediction = mean of patch log-probabilities over all its patches. Early stopping on an artist-grouped
validation split of each training fold (never the test fold).

    .venv/bin/python bench/mood_audio_finetune.py [--data DIR] [--cache /tmp/ft] [--variants a,b,c] [--seed 42]

Needs the musicnn weights (fetched once) and, for ``c``/``logreg``, the clip features (computed and cached if absent).
Gain augmentation is not applied: a gain changes musicnn's input as log10(1 + 10⁴·g·mel), not as a shift, so it
would need the frozen front end recomputed per gain.

Measured 2026-11-21 (seed 42 folds, 1 thread on 2 shared cores; front end 19,624 patches at hop 47 in 336 s; the
trainable copy's penultimate matches the inference model to 3e-6, 1.4e-3 from the float16 front-end maps), macro-F1
mean ± sd over the 5 artist-grouped folds: logreg (baseline, same folds) 0.718 ± 0.028; a 0.705 ± 0.058 (23 s; five
inner-split models averaged 0.706; head only, lr_pre 0: 0.700); b 0.692 ± 0.061 (570 s; 30 epochs / 8 crops:
0.696; three inner-split models averaged 0.705 ± 0.043, 1470 s); c with a 0.716, with b 0.704–0.716. Over split
seeds 42, 7, 1, 2, 3: logreg 0.717, a 0.709, c_a 0.717 (means of the per-seed means). Fine-tuning did not help.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch is imported: don't spin on a shared machine

import argparse
import json
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "audio" / "4q-dev"
FRONT_CHANNELS = 561
PATCH = 187
N_CLASSES = 4


# ------------------------------------------------------------------------------------------------ data, front end
def load_data(data_dir: Path) -> Any:
    from trackscope.sources.audio_dirs import find_labelled_audio

    return find_labelled_audio(
        data_dir, data_dir / "labels.csv", id_column="song_id", label="quadrant", group_column="artist"
    )


def frozen_front(net: Any, x: Any) -> dict[str, Any]:
    """The frozen model's outputs for patches x (B, 187, 96): front-end map (B, 561, 187) and pooled features."""
    out = net(x)
    front = __import__("torch").cat([out["timbral"], out["temporal"]], dim=2).mT
    return {"front": front, "max_pool": out["max_pool"], "mean_pool": out["mean_pool"], "pen": out["penultimate"]}


def extract(data: Any, cache: Path, hop: int, limit: int | None = None) -> dict[str, Any]:
    """Front-end maps of every patch (hop ``hop`` frames) as a float16 memmap; per-patch pooled features in an npz."""
    import numpy as np
    import torch

    from trackscope.audio.musicnn.embed import get_model
    from trackscope.audio.musicnn.frontend import load, log_compress, melspectrogram, patches

    cache.mkdir(parents=True, exist_ok=True)
    n_clips = len(data.paths) if limit is None else min(limit, len(data.paths))
    meta_path = cache / f"front_hop{hop}_n{n_clips}.json"
    raw_path = cache / f"front_hop{hop}_n{n_clips}.f16"
    side_path = cache / f"front_hop{hop}_n{n_clips}.npz"
    if meta_path.is_file() and raw_path.is_file() and side_path.is_file():
        return json.loads(meta_path.read_text())
    net = get_model("MSD_musicnn", device="cpu")
    t0 = time.perf_counter()
    clip_of, start_of, pooled, pens = [], [], [], []
    part = raw_path.with_suffix(".part")
    with open(part, "wb") as f, torch.inference_mode():
        for i, path in enumerate(data.paths[:n_clips]):
            x = patches(log_compress(melspectrogram(load(path))), hop=hop)
            for s in range(0, len(x), 8):
                o = frozen_front(net, torch.from_numpy(x[s : s + 8]))
                f.write(o["front"].numpy().astype(np.float16).tobytes())
                pooled.append(torch.stack([o["max_pool"], o["mean_pool"]], dim=2).reshape(len(o["pen"]), -1).numpy())
                pens.append(o["pen"].numpy())
            clip_of.extend([i] * len(x))
            start_of.extend(range(0, hop * len(x), hop))
            if (i + 1) % 20 == 0 or i + 1 == n_clips:
                print(f"  front end {i + 1}/{n_clips} clips, {len(clip_of)} patches ({time.perf_counter() - t0:.0f} s)")
    np.savez(
        side_path.with_suffix(".part.npz"),
        clip=np.array(clip_of, dtype=np.int32),
        start=np.array(start_of, dtype=np.int32),
        pooled=np.concatenate(pooled).astype(np.float32),
        pen=np.concatenate(pens).astype(np.float32),
    )
    os.replace(side_path.with_suffix(".part.npz"), side_path)
    os.replace(part, raw_path)
    meta = {
        "n_clips": n_clips,
        "n_patches": len(clip_of),
        "hop": hop,
        "raw": str(raw_path),
        "side": str(side_path),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    meta_path.write_text(json.dumps(meta, indent=1))
    return meta


def open_front(meta: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    import numpy as np

    front = np.memmap(meta["raw"], dtype=np.float16, mode="r", shape=(meta["n_patches"], FRONT_CHANNELS, PATCH))
    side = dict(np.load(meta["side"]))
    return front, side


# ------------------------------------------------------------------------------------------------ trainable model
def make_midback(weights: dict, dropout: float = 0.5) -> Any:
    """Trainable mid end + back end + a new 4-class head, initialised from musicnn's TF weights (plain layers)."""
    import numpy as np
    import torch
    from torch import nn

    from trackscope.audio.musicnn.model import BN_EPS

    def bn(name: str, n: int) -> nn.BatchNorm1d:
        layer = nn.BatchNorm1d(n, eps=BN_EPS)
        with torch.no_grad():
            layer.weight.copy_(torch.from_numpy(np.asarray(weights[f"{name}/gamma"], dtype=np.float32)))
            layer.bias.copy_(torch.from_numpy(np.asarray(weights[f"{name}/beta"], dtype=np.float32)))
            layer.running_mean.copy_(torch.from_numpy(np.asarray(weights[f"{name}/moving_mean"], dtype=np.float32)))
            layer.running_var.copy_(torch.from_numpy(np.asarray(weights[f"{name}/moving_variance"], dtype=np.float32)))
        return layer

    class MidBack(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.convs = nn.ModuleList()
            self.mid_bns = nn.ModuleList()
            for i in range(3):
                k = np.asarray(weights[f"conv2d_{i + 5}/kernel"], dtype=np.float32)  # (7, C_in, 1, 64)
                conv = nn.Conv1d(k.shape[1], 64, 7, padding=3)
                with torch.no_grad():
                    conv.weight.copy_(torch.from_numpy(np.ascontiguousarray(k[:, :, 0, :].transpose(2, 1, 0))))
                    conv.bias.copy_(torch.from_numpy(np.asarray(weights[f"conv2d_{i + 5}/bias"], dtype=np.float32)))
                self.convs.append(conv)
                self.mid_bns.append(bn(f"batch_normalization_{i + 6}", 64))
            self.pool_bn = bn("batch_normalization_9", 2 * 753)
            self.dense = nn.Linear(2 * 753, 200)
            with torch.no_grad():
                self.dense.weight.copy_(torch.from_numpy(np.asarray(weights["dense/kernel"], dtype=np.float32).T))
                self.dense.bias.copy_(torch.from_numpy(np.asarray(weights["dense/bias"], dtype=np.float32)))
            self.pen_bn = bn("batch_normalization_10", 200)
            self.drop = nn.Dropout(dropout)
            self.head = nn.Linear(200, N_CLASSES)

        def train(self, mode: bool = True) -> MidBack:
            super().train(mode)
            for m in self.modules():  # moving statistics stay those of the pretrained model (small data)
                if isinstance(m, nn.BatchNorm1d):
                    m.eval()
            return self

        def pooled(self, front: torch.Tensor) -> torch.Tensor:
            """(B, 561, T) front-end map → interleaved max/mean pool (B, 1506), as musicnn flattens it."""
            h, mids = front, []
            for i, (conv, norm) in enumerate(zip(self.convs, self.mid_bns, strict=True)):
                z = norm(torch.relu(conv(h)))
                h = z if i == 0 else z + h
                mids.append(h)
            feats = torch.cat([front, *mids], dim=1)
            return torch.stack([feats.amax(dim=2), feats.mean(dim=2)], dim=2).reshape(front.shape[0], -1)

        def penultimate(self, flat: torch.Tensor) -> torch.Tensor:
            return self.pen_bn(torch.relu(self.dense(self.drop(self.pool_bn(flat)))))

        def forward(self, front: torch.Tensor | None = None, flat: torch.Tensor | None = None) -> torch.Tensor:
            if flat is None:
                flat = self.pooled(front)
            return self.head(self.drop(self.penultimate(flat)))

    return MidBack()


def verify(weights: dict, data: Any, meta: dict[str, Any], front16: Any, side: dict[str, Any]) -> dict[str, float]:
    """Max |Δ| of the trainable copy's penultimate vs trackscope's inference model (fp32 and fp16 front ends)."""
    import numpy as np
    import torch

    from trackscope.audio.musicnn.embed import get_model
    from trackscope.audio.musicnn.frontend import load, log_compress, melspectrogram, patches

    net = get_model("MSD_musicnn", device="cpu")
    mb = make_midback(weights).eval()
    d32, d16, dpool, scale = 0.0, 0.0, 0.0, 0.0
    with torch.inference_mode():
        x = patches(log_compress(melspectrogram(load(data.paths[0]))), hop=meta["hop"])[:8]
        o = frozen_front(net, torch.from_numpy(x))
        pooled = mb.pooled(o["front"])
        pen32 = mb.penultimate(pooled)
        ref_pool = torch.stack([o["max_pool"], o["mean_pool"]], dim=2).reshape(len(x), -1)
        dpool = float((pooled - ref_pool).abs().max())
        d32 = float((pen32 - o["pen"]).abs().max())
        scale = float(o["pen"].abs().max())
        idx = np.flatnonzero(side["clip"] == 0)[:8]
        pen16 = mb.penultimate(mb.pooled(torch.from_numpy(np.asarray(front16[idx], dtype=np.float32))))
        d16 = float((pen16 - torch.from_numpy(side["pen"][idx])).abs().max())
    return {"pooled_fp32_maxabs": dpool, "pen_fp32_maxabs": d32, "pen_fp16_front_maxabs": d16, "pen_scale": scale}


# ------------------------------------------------------------------------------------------------ training, CV
def clip_logprobs(model: Any, clips: Any, patch_lists: list[Any], get_input: Any, every: int = 1) -> Any:
    """(len(clips), 4) clip scores: mean over each clip's patches (every ``every``-th) of patch log-probabilities."""
    import numpy as np
    import torch

    idx = np.concatenate([patch_lists[c][::every] for c in clips])
    owner = np.concatenate([np.full(len(patch_lists[c][::every]), j) for j, c in enumerate(clips)])
    out = np.zeros((len(clips), N_CLASSES))
    model.eval()
    with torch.inference_mode():
        for s in range(0, len(idx), 128):
            lp = torch.log_softmax(model(**get_input(idx[s : s + 128])), dim=1).float().cpu().numpy()
            np.add.at(out, owner[s : s + 128], lp)
    return out / np.bincount(owner, minlength=len(clips))[:, None]


def scores(y_true: Any, logp: Any) -> dict[str, float]:
    import numpy as np
    from sklearn.metrics import accuracy_score, f1_score, log_loss

    pred = logp.argmax(axis=1)
    p = np.exp(logp - logp.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    return {
        "macro_f1": float(f1_score(y_true, pred, average="macro", labels=range(N_CLASSES))),
        "accuracy": float(accuracy_score(y_true, pred)),
        "nll": float(log_loss(y_true, p, labels=range(N_CLASSES))),
    }


def train_fold(
    kind: str,
    weights: dict,
    inner_tr: Any,
    val: Any,
    y: Any,
    patch_lists: list[Any],
    get_input: Any,
    cfg: dict[str, Any],
    seed: int,
) -> tuple[Any, list[dict[str, float]]]:
    """Fine-tune a fresh copy on clips ``inner_tr``; early stopping on the clip-level NLL of ``val``."""
    import copy

    import numpy as np
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = make_midback(weights, dropout=cfg["dropout"]).to(cfg["device"])
    pretrained, head = [], list(model.head.parameters())
    for name, p in model.named_parameters():
        if name.startswith("head."):
            continue
        if kind == "a" and name.startswith(("convs.", "mid_bns.")):
            p.requires_grad_(False)
        else:
            pretrained.append(p)
    opt = torch.optim.AdamW(
        [{"params": pretrained, "lr": cfg["lr_pre"]}, {"params": head, "lr": cfg["lr_head"]}],
        weight_decay=cfg["weight_decay"],
    )
    k, epochs, patience = cfg[f"k_{kind}"], cfg[f"epochs_{kind}"], cfg["patience"]
    best, best_nll, since, history = None, np.inf, 0, []
    for epoch in range(epochs):
        model.train()
        # k random patches (crop offsets) per clip per epoch
        idx = np.concatenate([rng.choice(patch_lists[c], size=k, replace=True) for c in inner_tr])
        lab = np.concatenate([np.full(k, y[c]) for c in inner_tr])
        order = rng.permutation(len(idx))
        idx, lab = idx[order], lab[order]
        total = 0.0
        for s in range(0, len(idx), cfg["batch"]):
            b_idx, b_lab = idx[s : s + cfg["batch"]], lab[s : s + cfg["batch"]]
            srt = np.argsort(b_idx)  # sequential memmap reads
            logits = model(**get_input(b_idx[srt]))
            loss = torch.nn.functional.cross_entropy(logits, torch.from_numpy(b_lab[srt]).to(logits.device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(b_idx)
        v = scores(
            y[val], clip_logprobs(model, val, patch_lists, get_input, every=1 if kind == "a" else cfg["val_every_b"])
        )
        history.append({"epoch": epoch + 1, "train_loss": round(total / len(idx), 4), **{x: round(v[x], 4) for x in v}})
        if v["nll"] < best_nll - 1e-4:
            best, best_nll, since = copy.deepcopy(model.state_dict()), v["nll"], 0
        else:
            since += 1
            if since >= patience:
                break
    model.load_state_dict(best)
    return model, history


def summarise(per_fold: list[dict[str, float]], y_all: Any, pred_all: dict[int, int]) -> dict[str, Any]:
    import numpy as np
    from sklearn.metrics import accuracy_score, f1_score

    f1 = np.array([r["macro_f1"] for r in per_fold])
    acc = np.array([r["accuracy"] for r in per_fold])
    clips = sorted(pred_all)
    yt, yp = [int(y_all[c]) for c in clips], [pred_all[c] for c in clips]
    return {
        "macro_f1_mean": round(float(f1.mean()), 4),
        "macro_f1_sd": round(float(f1.std(ddof=1)) if len(f1) > 1 else 0.0, 4),
        "accuracy_mean": round(float(acc.mean()), 4),
        "accuracy_sd": round(float(acc.std(ddof=1)) if len(acc) > 1 else 0.0, 4),
        "pooled_macro_f1": round(float(f1_score(yt, yp, average="macro")), 4),
        "pooled_accuracy": round(float(accuracy_score(yt, yp)), 4),
        "per_fold_macro_f1": [round(float(x), 4) for x in f1],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/ft"), help="front-end memmap (~4 GB at hop 47)")
    ap.add_argument("--out", type=Path, default=None, help="also write the JSON summary here")
    ap.add_argument("--variants", default="logreg,a,b,c")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--only-folds", type=int, default=None, help="run the first N folds only (smoke tests)")
    ap.add_argument("--hop", type=int, default=47, help="frames between patch starts (187 = musicnn's grid)")
    ap.add_argument("--limit-clips", type=int, default=None, help="first N clips only (smoke tests)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--epochs-a", type=int, default=60)
    ap.add_argument("--epochs-b", type=int, default=12)
    ap.add_argument("--k-a", type=int, default=8, help="random patches per clip per epoch (variant a)")
    ap.add_argument("--k-b", type=int, default=4, help="random patches per clip per epoch (variant b)")
    ap.add_argument("--patience", type=int, default=4)
    ap.add_argument("--inner-models-a", type=int, default=1, help="models per fold, one per inner split (≤ 5)")
    ap.add_argument("--inner-models-b", type=int, default=1, help="models per fold, one per inner split (≤ 5)")
    ap.add_argument("--lr-pre", type=float, default=1e-4)
    ap.add_argument("--lr-head", type=float, default=1e-3)
    ap.add_argument("--weight-decay", type=float, default=1e-2)
    ap.add_argument("--dropout", type=float, default=0.5)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--val-every-b", type=int, default=2, help="variant b validates on every N-th patch (speed)")
    args = ap.parse_args()

    import numpy as np
    import sklearn
    import torch
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedGroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from trackscope.audio.musicnn.weights import load_weights

    torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    t_start = time.perf_counter()
    data = load_data(args.data)
    n = len(data.paths) if args.limit_clips is None else min(args.limit_clips, len(data.paths))
    classes = sorted(set(data.labels[:n]))
    y = np.array([classes.index(lab) for lab in data.labels[:n]])
    groups = np.array(data.groups[:n])
    meta = extract(data, args.cache, args.hop, limit=args.limit_clips)
    front16, side = open_front(meta)
    patch_lists = [np.flatnonzero(side["clip"] == c) for c in range(n)]
    weights = load_weights("MSD_musicnn")
    check = verify(weights, data, meta, front16, side)
    print("verify:", json.dumps(check), flush=True)
    pooled = side["pooled"]

    def input_a(idx: Any) -> dict[str, Any]:
        return {"flat": torch.from_numpy(pooled[idx]).to(device)}

    def input_b(idx: Any) -> dict[str, Any]:
        return {"front": torch.from_numpy(np.asarray(front16[idx], dtype=np.float32)).to(device)}

    x_feat = None
    if "logreg" in variants or "c" in variants:
        from trackscope.features.song import clip_matrix, feature_config

        rows = clip_matrix(data.paths[:n], feature_config())
        x_feat, kept, failures = rows.x, rows.kept, rows.failures
        if failures or len(kept) != n or len(x_feat) != n:  # 4Q clips are one 30-s window each
            raise SystemExit(f"clip features failed for {failures} (or a clip gave several windows)")
    cfg = {
        "device": device,
        "dropout": args.dropout,
        "lr_pre": args.lr_pre,
        "lr_head": args.lr_head,
        "weight_decay": args.weight_decay,
        "k_a": args.k_a,
        "k_b": args.k_b,
        "epochs_a": args.epochs_a,
        "epochs_b": args.epochs_b,
        "patience": args.patience,
        "batch": args.batch,
        "val_every_b": args.val_every_b,
    }
    outer = StratifiedGroupKFold(n_splits=args.folds, shuffle=True, random_state=args.seed)
    names = [v for v in ("logreg", "a", "b") if v in variants]
    names += [f"c_{v}" for v in ("a", "b") if "c" in variants and v in variants]
    fold_scores: dict[str, list] = {v: [] for v in names}
    oof: dict[str, dict[int, int]] = {v: {} for v in names}
    seconds: dict[str, float] = {v: 0.0 for v in names}
    histories: dict[str, list] = {v: [] for v in ("a", "b")}
    result: dict[str, Any] = {}
    for fold, (tr, te) in enumerate(outer.split(np.zeros(n), y, groups)):
        if args.only_folds is not None and fold >= args.only_folds:
            break
        assert not set(groups[tr]) & set(groups[te])
        inner = StratifiedGroupKFold(n_splits=5, shuffle=True, random_state=args.seed + 1 + fold)
        splits = [(tr[a], tr[b]) for a, b in inner.split(np.zeros(len(tr)), y[tr], groups[tr])]
        for inner_tr, val in splits:
            assert not set(groups[inner_tr]) & set(groups[val])
        p_lr = None
        if x_feat is not None:
            t0 = time.perf_counter()
            lr = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000, C=0.01)).fit(x_feat[tr], y[tr])
            p_lr = lr.predict_proba(x_feat[te])
            if "logreg" in names:
                seconds["logreg"] += time.perf_counter() - t0
                fold_scores["logreg"].append(scores(y[te], np.log(np.clip(p_lr, 1e-12, 1))))
                oof["logreg"].update(zip(te.tolist(), p_lr.argmax(1).tolist(), strict=True))
        for kind, get_input in (("a", input_a), ("b", input_b)):
            if kind not in variants:
                continue
            t0 = time.perf_counter()
            # one model per inner split (1 by default; up to 5 = every training clip used, averaged)
            logps = []
            for m, (inner_tr, val) in enumerate(splits[: getattr(args, f"inner_models_{kind}")]):
                model, hist = train_fold(
                    kind, weights, inner_tr, val, y, patch_lists, get_input, cfg, args.seed + 10 * fold + m
                )
                logps.append(clip_logprobs(model, te, patch_lists, get_input))
                best_epoch = min(hist, key=lambda h: h["nll"])["epoch"]
                histories[kind].append({"fold": fold, "inner": m, "best_epoch": best_epoch, "history": hist})
            logp = np.mean(logps, axis=0)
            seconds[kind] += time.perf_counter() - t0
            fold_scores[kind].append(scores(y[te], logp))
            oof[kind].update(zip(te.tolist(), logp.argmax(1).tolist(), strict=True))
            if p_lr is not None and f"c_{kind}" in names:
                p = np.exp(logp - logp.max(1, keepdims=True))
                p = 0.5 * p / p.sum(1, keepdims=True) + 0.5 * p_lr
                fold_scores[f"c_{kind}"].append(scores(y[te], np.log(p)))
                oof[f"c_{kind}"].update(zip(te.tolist(), p.argmax(1).tolist(), strict=True))
        print(
            f"fold {fold}: "
            + ", ".join(f"{v} {fold_scores[v][-1]['macro_f1']:.3f}" for v in names if fold_scores[v])
            + f"  ({time.perf_counter() - t_start:.0f} s)",
            flush=True,
        )
        result = {
            "variants": {v: {**summarise(fold_scores[v], y, oof[v]), "seconds": round(seconds[v], 1)} for v in names},
            "baseline_reported": {"macro_f1": 0.718, "source": "builtin:mood logreg, artist-grouped 5-fold CV"},
            "folds_done": fold + 1,
            "cv": {"folds": args.folds, "grouped_by": "artist", "splitter": "StratifiedGroupKFold", "seed": args.seed},
            "n_clips": n,
            "n_patches": meta["n_patches"],
            "hop_frames": args.hop,
            "front_end_seconds": meta["seconds"],
            "verify": check,
            "params": {k: v for k, v in vars(args).items() if k not in ("data", "cache", "out")},
            "torch": torch.__version__,
            "sklearn": sklearn.__version__,
            "threads": torch.get_num_threads(),
            "device": str(device),
            "best_epochs": {k: [h["best_epoch"] for h in v] for k, v in histories.items() if v},
            "seconds_total": round(time.perf_counter() - t_start, 1),
            "machine": "2 shared CPU cores (timings noisy)" if device.type == "cpu" else str(device),
        }
        if args.out:
            args.out.write_text(json.dumps({**result, "histories": histories}, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
