"""The table mood model's outputs: metrics, model folder, model card, HTML report and row explanations."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any

from trackscope._machine import versions
from trackscope.evaluation import OVERFIT_GAP


def collect_metrics(
    *, table: Any, results: list, chosen: Any, train_idx: Any, test_idx: Any, curve: dict, settings: dict
) -> dict[str, Any]:
    """Everything ``metrics.json`` records: scores of every model, the chosen one's diagnostics, data, versions."""
    import numpy as np
    from sklearn.inspection import permutation_importance

    from trackscope.evaluation import classification_metrics, describe_choice, overfit_flag
    from trackscope.models.tabular import DESCRIPTIONS, logreg_odds_ratios

    X, y = table.X(), table.y()  # noqa: N806
    features = list(table.features)
    classes = [str(c) for c in chosen.estimator.classes_]
    y_tr, x_te, y_te = y[train_idx], X[test_idx], y[test_idx]
    models: dict[str, Any] = {}
    for r in results:
        pred = r.estimator.predict(x_te)
        m = classification_metrics(y_te, pred, classes)
        models[r.name] = {
            "cv_mean": r.cv_mean,
            "cv_std": r.cv_std,
            "cv_scores": r.cv_scores,
            "train_accuracy": r.train_accuracy,
            "test_accuracy": m["accuracy"],
            "test_macro_f1": m["macro_f1"],
            "gap": r.train_accuracy - r.cv_mean,
            "overfit": overfit_flag(r.train_accuracy, r.cv_mean),
            "params": r.params,
            "candidates": r.n_candidates,
            "seconds": round(r.seconds, 2),
            "grid": r.grid,
        }
    test = classification_metrics(y_te, chosen.estimator.predict(x_te), classes)
    # Coefficients explain a model only when it is linear: odds ratios when the saved model is the logistic
    # regression; any other family is interpreted by permutation importance alone (a separate logistic regression's
    # coefficients would describe a model that was not saved).
    odds = logreg_odds_ratios(chosen.estimator, features) or {}
    perm = permutation_importance(
        chosen.estimator, x_te, y_te, n_repeats=10, random_state=settings["seed"], scoring="accuracy", n_jobs=1
    )
    frame = table.frame
    class_means = frame.groupby(table.label)[features].mean()
    stats = table.stats
    return {
        "task": "mood",
        "input": "table",
        "label": table.label,
        "classes": classes,
        "features": features,
        "chosen_model": chosen.name,
        "chosen_family": DESCRIPTIONS.get(chosen.name, chosen.name),
        "chosen_params": chosen.params,
        "chosen_by": f"highest mean {settings['cv_folds']}-fold CV accuracy on the training split",
        "choice": describe_choice(models, chosen.name, score="accuracy"),
        "interpretation": "odds ratios and permutation importance" if odds else "permutation importance",
        "cv": {r.name: {"mean": r.cv_mean, "std": r.cv_std} for r in results},
        "models": models,
        "overfit_gap_threshold": OVERFIT_GAP,
        "test": test,
        "split": {
            "test_size": settings["test_size"],
            "seed": settings["seed"],
            "stratified": True,
            "grouped_by": settings.get("group_column"),
            "train_rows": int(len(train_idx)),
            "test_rows": int(len(test_idx)),
            "class_counts": {
                "train": {c: int(np.sum(y_tr == c)) for c in classes},
                "test": {c: int(np.sum(y_te == c)) for c in classes},
            },
        },
        "data": {
            "path": str(table.path),
            "sha256": table.sha256,
            "rows": int(len(table)),
            "rows_read": stats["rows_read"],
            "duplicates_dropped": stats["duplicates_dropped"],
            "missing_dropped": stats["missing_dropped"],
            "renamed_columns": stats.get("renamed", {}),
        },
        "class_means": {c: {f: float(class_means.loc[c, f]) for f in features} for c in class_means.index},
        "learning_curve": curve,
        "odds_ratios": odds,
        "permutation_importance": {
            f: {"mean": float(perm.importances_mean[j]), "std": float(perm.importances_std[j])}
            for j, f in enumerate(features)
        },
        "parameters": settings,
        "versions": versions(),
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }


def write_model_folder(out: str | Path, pipeline: Any, metrics: dict[str, Any], *, table: Any, train_idx: Any) -> Path:
    """Pipeline (skops), metrics.json, model_card.md and report.html, committed atomically as one folder."""
    from trackscope.models.persist import ModelWriter

    x_tr = table.X()[train_idx]
    features = metrics["features"]
    meta = {
        "task": "mood",
        "input": "table",
        "classes": metrics["classes"],
        "label": metrics["label"],
        "features": features,
        "feature_means": {f: float(v) for f, v in zip(features, x_tr.mean(axis=0), strict=True)},
        "feature_sds": {f: float(v) for f, v in zip(features, x_tr.std(axis=0), strict=True)},
        "chosen_model": metrics["chosen_model"],
        "data_sha256": metrics["data"]["sha256"],
        "test": {k: metrics["test"][k] for k in ("accuracy", "macro_f1", "n")},
        "created": metrics["date"],
    }
    writer = ModelWriter(Path(out), meta)
    try:
        writer.add_sklearn("pipeline", pipeline)
        writer.add_json("metrics.json", metrics)
        writer.add_text("model_card.md", model_card(metrics))
        build_report(metrics).write(writer.folder / "report.html")
        return writer.commit()
    except BaseException:
        writer.abort()
        raise


def model_card(m: dict[str, Any]) -> str:
    """A short Markdown model card: data, classes, features, chosen model, scores, versions, date."""
    d, t, s = m["data"], m["test"], m["split"]
    choice = m.get("choice", {})
    lines = [
        "# Mood model (Spotify features)",
        "",
        f"- **Date:** {m['date']}",
        f"- **Data:** `{Path(d['path']).name}` — sha256 `{d['sha256']}`; {d['rows']} rows used "
        f"({d['rows_read']} read, {d['duplicates_dropped']} duplicate ids and {d['missing_dropped']} rows with "
        "missing values dropped)",
        f"- **Label:** `{m['label']}`; classes: {', '.join(m['classes'])}",
        f"- **Features ({len(m['features'])}):** {', '.join(m['features'])}",
        f"- **Split:** stratified, test size {s['test_size']}, seed {s['seed']} → {s['train_rows']} train / "
        f"{s['test_rows']} test rows" + (f", grouped by `{s['grouped_by']}`" if s.get("grouped_by") else ""),
        f"- **Chosen model:** `{m['chosen_model']}` — {m.get('chosen_family', m['chosen_model'])}; parameters "
        f"`{m['chosen_params']}`",
        f"- **Choice rule:** {choice.get('rule', m['chosen_by'])}",
        *([f"- **Overfitting:** {choice['note']}"] if choice.get("note") else []),
        f"- **Interpretation:** {_interpretation_text(m)}",
        f"- **Test:** accuracy {t['accuracy']:.3f}, macro-F1 {t['macro_f1']:.3f} on {t['n']} rows",
        "",
        "| model | CV mean ± sd | train | test | test macro-F1 | overfit? |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in m["models"].items():
        flag = f"yes (gap {r['gap']:.2f})" if r["overfit"] else "no"
        lines.append(
            f"| {name} | {r['cv_mean']:.3f} ± {r['cv_std']:.3f} | {r['train_accuracy']:.3f} | "
            f"{r['test_accuracy']:.3f} | {r['test_macro_f1']:.3f} | {flag} |"
        )
    lines += [
        "",
        "The saved pipeline was fitted on the training split only, so the test scores above are its own.",
        f"Overfitting flag: train accuracy more than {m['overfit_gap_threshold']:.2f} above the CV mean.",
        "",
        "**Library versions:** " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()),
        "",
        "Limitations: Spotify's audio features describe whole tracks coarsely; moods are the playlists' labels, not "
        "listeners' ratings, so other people's playlists (other label schemes) score lower — check with "
        "`trackscope evaluate` before relying on it.",
        "",
    ]
    return "\n".join(lines)


def _interpretation_text(m: dict[str, Any]) -> str:
    """How the saved model is interpreted, in one sentence that names its family."""
    if m["odds_ratios"]:
        return (
            "the saved model is a logistic regression: its coefficients as odds ratios per standard deviation of each "
            "feature, and permutation importance on the test split"
        )
    return (
        f"the saved model ({m['chosen_model']}) is not linear and has no per-feature coefficients: permutation "
        "importance on the test split, and `trackscope explain` for single rows"
    )


def model_table(m: dict[str, Any]) -> Any:
    """The models as a DataFrame (one row each), the chosen one marked."""
    import pandas as pd

    rows = []
    for name, r in m["models"].items():
        rows.append(
            {
                "model": name + (" (chosen)" if name == m["chosen_model"] else ""),
                "CV mean": r["cv_mean"],
                "CV sd": r["cv_std"],
                "train": r["train_accuracy"],
                "test": r["test_accuracy"],
                "test macro-F1": r["test_macro_f1"],
                "gap": r["gap"],
                "overfit": "yes" if r["overfit"] else "no",
                "parameters": ", ".join(f"{k}={v}" for k, v in r["params"].items()),
            }
        )
    return pd.DataFrame(rows)


def build_report(m: dict[str, Any]) -> Any:
    """The self-contained report.html of a table mood model (a :class:`trackscope.report.html.Report`)."""
    import numpy as np
    import pandas as pd

    from trackscope.report import plots
    from trackscope.report.html import Report

    classes, features = m["classes"], m["features"]
    d, s, t = m["data"], m["split"], m["test"]
    choice = m.get("choice", {})
    rep = Report(
        "Mood model from Spotify features",
        subtitle=f"{Path(d['path']).name} · {d['rows']} tracks · {len(classes)} moods · saved model: "
        f"{m['chosen_model']} ({m.get('chosen_family', m['chosen_model'])})",
    )
    rep.add_heading("Data and split")
    rep.add_table(
        {
            "file": Path(d["path"]).name,
            "sha256": d["sha256"],
            "rows read": d["rows_read"],
            "duplicate ids dropped": d["duplicates_dropped"],
            "rows with missing values dropped": d["missing_dropped"],
            "rows used": d["rows"],
            "split": f"stratified, test size {s['test_size']}, seed {s['seed']}",
        },
        "The table",
    )
    dist = pd.DataFrame({"train": s["class_counts"]["train"], "test": s["class_counts"]["test"]})
    shares = dist.assign(**{"train share": dist.train / dist.train.sum(), "test share": dist.test / dist.test.sum()})
    rep.add_table(shares.reset_index(names="mood"), "Class distribution of both splits")
    rep.add_figure(plots.grouped_bars(dist, title="Tracks per mood", ylabel="tracks"), "Class distribution")

    rep.add_heading("Per-mood mean of every feature")
    means = pd.DataFrame(m["class_means"]).T.loc[[c for c in classes if c in m["class_means"]], features]
    rep.add_table(means.reset_index(names="mood"), "Mean feature value per mood (whole table)")
    z = (means - means.mean()) / means.std(ddof=0).replace(0, 1)
    rep.add_figure(
        plots.heatmap(
            z.to_numpy(),
            list(means.index),
            features,
            title="Per-mood means (z-scored across moods)",
            cmap="RdBu_r",
            center=0.0,
        ),
        "Each cell: how far the mood's mean lies from the average of the mood means, in sds of those means.",
    )

    rep.add_heading("Models")
    rep.add_text(
        f"Every family was grid-searched with the same {m['parameters']['cv_folds']}-fold stratified CV on the "
        f"training split; the test split was used only to report. Choice rule: {choice.get('rule', m['chosen_by'])}. "
        f"Chosen: {m['chosen_model']} ({m.get('chosen_family', m['chosen_model'])})."
    )
    if choice.get("note"):
        rep.add_text(f"Overfitting: {choice['note']}", note=True)
    table = model_table(m)
    rep.add_table(table, "Model comparison")
    rep.add_figure(
        plots.bar_chart(
            list(m["models"]),
            [r["cv_mean"] for r in m["models"].values()],
            errors=[r["cv_std"] for r in m["models"].values()],
            title="CV accuracy (mean ± sd)",
            ylabel="accuracy",
        ),
        "Cross-validated accuracy by model",
    )

    rep.add_heading("Diagnostics of the chosen model")
    lc = m["learning_curve"]
    rep.add_heading("Learning curve", level=3)
    rep.add_figure(
        plots.line_with_band(
            lc["sizes"],
            {"train": (lc["train_mean"], lc["train_std"]), "validation": (lc["val_mean"], lc["val_std"])},
            title=f"Learning curve ({m['chosen_model']})",
            xlabel="training rows",
            ylabel="accuracy",
        ),
        "A gap that stays wide as rows grow means overfitting; a validation curve still rising means more data helps.",
    )
    rep.add_text(f"Test accuracy {t['accuracy']:.3f}, macro-F1 {t['macro_f1']:.3f} on {t['n']} tracks.")
    labels = t["confusion"]["labels"]
    rep.add_heading("Confusion matrix (test split)", level=3)
    rep.add_figure(
        plots.heatmap(
            np.array(t["confusion"]["matrix"]),
            labels,
            labels,
            fmt="{:.0f}",
            title="Confusion matrix (counts)",
            xlabel="predicted",
            ylabel="true",
        ),
        "Counts",
    )
    rep.add_figure(
        plots.heatmap(
            np.array(t["confusion"]["normalized"]),
            labels,
            labels,
            fmt="{:.2f}",
            title="Confusion matrix (share of each true mood)",
            xlabel="predicted",
            ylabel="true",
        ),
        "Normalised by row",
    )
    per = pd.DataFrame(t["per_class"]).T
    per["support"] = per["support"].astype(int)
    rep.add_heading("Per-class precision and recall", level=3)
    rep.add_table(per.reset_index(names="mood"), "Per-class precision, recall, F1 (test)")
    rep.add_figure(
        plots.grouped_bars(per[["precision", "recall"]], title="Per-class precision and recall (test)"),
        "Precision and recall by mood",
    )

    rep.add_heading("Interpretation")
    rep.add_text(f"Saved model: {m['chosen_model']} — {m.get('chosen_family', m['chosen_model'])}.")
    if not m["odds_ratios"]:
        rep.add_text(
            f"A {m['chosen_model']} model is not linear: it has no per-feature coefficients or odds ratios, and a "
            "feature's effect can differ from song to song. It is described by permutation importance (below): how "
            "much test accuracy it loses when one feature's values are shuffled. For why one song gets its mood, run "
            "`trackscope explain MODEL --data TABLE --row N`."
        )
    else:
        rep.add_text(
            "Odds ratios exp(coefficient) of the saved logistic regression, per standard deviation of each feature "
            "after the pipeline's scaling: above 1 "
            "the feature raises the odds of the mood, below 1 it lowers them. Top three each way per mood:"
        )
        rows = []
        for c, ors in m["odds_ratios"].items():
            ranked = sorted(ors.items(), key=lambda kv: -kv[1])
            rows.append(
                {
                    "mood": c,
                    "raises odds": ", ".join(f"{f} ×{v:.2f}" for f, v in ranked[:3] if v > 1) or "–",
                    "lowers odds": ", ".join(f"{f} ×{v:.2f}" for f, v in ranked[::-1][:3] if v < 1) or "–",
                }
            )
        rep.add_table(pd.DataFrame(rows), "Top features per mood (odds ratios)")
        odds = pd.DataFrame(m["odds_ratios"]).T.loc[:, features]
        rep.add_figure(
            plots.heatmap(
                np.log2(odds.to_numpy()),
                list(odds.index),
                features,
                cmap="RdBu_r",
                center=0.0,
                title="log2 odds ratio per sd (logistic regression)",
            ),
            "Red raises, blue lowers",
        )
    perm = m["permutation_importance"]
    rep.add_heading("Permutation importance", level=3)
    order = sorted(perm, key=lambda f: -perm[f]["mean"])
    rep.add_figure(
        plots.bar_chart(
            order,
            [perm[f]["mean"] for f in order],
            errors=[perm[f]["std"] for f in order],
            horizontal=True,
            title=f"Permutation importance ({m['chosen_model']}, test split)",
            xlabel="drop in accuracy when the feature is shuffled",
        ),
        "How much test accuracy the chosen model loses when one feature is shuffled (10 repeats).",
    )
    rep.add_heading("Reproducibility")
    rep.add_table(
        {
            **{f"version {k}": v for k, v in m["versions"].items()},
            "date": m["date"],
            **{f"setting {k}": str(v) for k, v in m["parameters"].items()},
        },
        "Versions and settings",
    )
    return rep


def write_explanation(out: str | Path, result: dict[str, Any]) -> dict[str, str]:
    """``explanation.json`` and ``explanation.png`` (feature effects) in folder ``out``; returns their paths."""
    from trackscope._atomic import output_folder, write_bytes
    from trackscope._json import write_json_atomic
    from trackscope.report import plots

    out = output_folder(out)
    write_json_atomic(out / "explanation.json", result)
    rows = result["contributions"]
    fig = plots.bar_chart(
        [r["feature"] for r in rows],
        [r["effect"] for r in rows],
        horizontal=True,
        title=f"Why {result['mood']} ({result['confidence']:.0%})",
        xlabel=f"drop in P({result['mood']}) when the feature is set to its training mean",
    )
    write_bytes(out / "explanation.png", plots.figure_png(fig))
    return {"json": str(out / "explanation.json"), "png": str(out / "explanation.png")}
