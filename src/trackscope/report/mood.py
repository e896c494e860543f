"""What a mood model leaves behind: the table model's folder (pipeline, metrics, model card, HTML report), and the
explanation files of any mood model (audio model folders: :mod:`trackscope.report.mood_audio`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def write_model(trained: Any, out: str | Path, *, overwrite: bool | None = None) -> Path:
    """The folder of a trained mood model (a :class:`trackscope.tasks.results.TrainedModel`), committed atomically:
    pipeline.skops, metrics.json, model_card.md and report.html (audio models: :mod:`trackscope.report.mood_audio`).
    """
    if trained.input == "audio":
        from trackscope.report import mood_audio

        return mood_audio.write_model(trained, out, overwrite=overwrite)
    from trackscope.report.folder import write_model_folder

    m = trained.metrics

    def add(writer: Any) -> None:
        writer.add_text("model_card.md", model_card(m))
        build_report(m).write(writer.folder / "report.html")

    return write_model_folder(trained, out, overwrite=overwrite, add=add)


def write_explanation(md: Any, explanation: Any, out: str | Path) -> None:
    """``explanation.json`` and ``explanation.png`` of a mood explanation in folder ``out`` — feature effects (table
    models) or each stretch's pull on each mood over time (audio models); their paths go into the result as
    ``files`` (table models) or ``outputs`` (audio models)."""
    if md.input == "audio":
        explanation.result["outputs"] = write_stretches(out, explanation.result)
    else:
        explanation.result["files"] = write_effects(out, explanation.result)


def write_stretches(out: str | Path, result: dict[str, Any]) -> dict[str, str]:
    """``explanation.json`` and ``explanation.png`` of an audio mood explanation in folder ``out``: over the song's
    time, each mood's line is how much each stretch pulls the song toward it (above zero) or away (below); the
    song's mood drawn boldest. Returns their paths."""
    from trackscope._atomic import output_folder, write_bytes
    from trackscope._format import format_duration
    from trackscope._json import write_json_atomic
    from trackscope.constants import QUADRANT_WORDS
    from trackscope.report import plots

    out = output_folder(out)
    write_json_atomic(out / "explanation.json", result)
    why = result.get("why") or []
    mood = result.get("mood")
    fig = plots.new_figure(8.0, 3.6)
    ax = fig.add_subplot()
    if why:
        edges = [s["start"] for s in why] + [why[-1]["end"]]
        for c in why[0]["effects"]:
            ax.stairs(
                [s["effects"][c] for s in why],
                edges,
                label=f"{c} {QUADRANT_WORDS.get(c, '')}".strip(),
                linewidth=2.6 if c == mood else 1.2,
                baseline=None,
            )
        ax.axhline(0.0, color="#888888", linewidth=0.8)
        ax.legend(loc="upper right", fontsize="small")
        length = edges[-1] - edges[0]
        step = next((t for t in (5, 10, 15, 30, 60, 120, 300, 600) if length / t <= 10), 1200)
        ticks = [t * step for t in range(int(edges[0] // step), int(edges[-1] // step) + 1)]
        ax.set_xticks(ticks, [format_duration(t) for t in ticks])
        ax.set_xlim(edges[0], edges[-1])
    else:
        ax.text(0.5, 0.5, result.get("summary", "nothing to show"), ha="center", va="center", wrap=True)
        ax.set_axis_off()
    words = QUADRANT_WORDS.get(mood, mood) if mood else "silent"
    conf = result.get("confidence")
    ax.set_title(f"Why {words}" + (f" ({mood}, {conf:.0%})" if mood and conf is not None else ""))
    ax.set_xlabel("time (m:ss)")
    ax.set_ylabel("pull toward each mood (Δp)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    write_bytes(out / "explanation.png", plots.figure_png(fig))
    return {"json": str(out / "explanation.json"), "png": str(out / "explanation.png")}


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


def write_effects(out: str | Path, result: dict[str, Any]) -> dict[str, str]:
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
