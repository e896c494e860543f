"""What a popularity model leaves behind: the model folder (metrics.json, curves, report.html, model_card.md) and the
explanation files (a row's JSON, a song's occlusion picture)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def _histogram_figure(scores: np.ndarray, cut: float, rule: str):
    from trackscope.report.plots import new_figure

    fig = new_figure(6.5, 3.5)
    ax = fig.add_subplot()
    ax.hist(scores, bins=20, color="#4C72B0", alpha=0.85)
    ax.axvline(cut, color="#C44E52", linewidth=2, label=f"cut = {cut:g} ({rule})")
    ax.set_xlabel("popularity (training split)")
    ax.set_ylabel("tracks")
    ax.legend()
    fig.tight_layout()
    return fig


def _calibration_figure(cal: dict[str, list[float]], model: str):
    from trackscope.report.plots import new_figure

    fig = new_figure(4.5, 4.5)
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1)
    ax.plot(cal["predicted"], cal["observed"], marker="o")
    ax.set_xlabel("predicted hit probability")
    ax.set_ylabel("observed share popular")
    ax.set_title(f"Calibration ({model})")
    fig.tight_layout()
    return fig


def curves_figure(curves: dict[str, list[dict[str, float]]]):
    """Loss, accuracy and ROC-AUC per epoch (train solid, validation dashed), one colour per network."""
    from trackscope.report.plots import new_figure

    fig = new_figure(11.0, 3.6)
    axes = fig.subplots(1, 3)
    for k, (name, hist) in enumerate(curves.items()):
        color = f"C{k}"
        ep = [h["epoch"] for h in hist]
        for ax, key in zip(axes, ("loss", "accuracy", "roc_auc"), strict=True):
            ax.plot(ep, [h[f"train_{key}"] for h in hist], color=color, label=f"{name} train")
            ax.plot(ep, [h[f"val_{key}"] for h in hist], color=color, linestyle="--", label=f"{name} val")
            ax.set_title(key.replace("_", "-"))
            ax.set_xlabel("epoch")
            ax.grid(alpha=0.3)
    axes[0].legend(fontsize="x-small")
    fig.tight_layout()
    return fig


def holdout_chart(results: dict[str, dict[str, Any]]):
    """The study's comparison chart: accuracy and ROC-AUC of every model on the holdout split."""
    import pandas as pd

    from trackscope.report.plots import grouped_bars

    frame = pd.DataFrame(
        {
            "holdout accuracy": [r["holdout_accuracy"] for r in results.values()],
            "holdout ROC-AUC": [r["holdout_roc_auc"] for r in results.values()],
        },
        index=list(results),
    ).astype(float)
    fig = grouped_bars(frame, title="Holdout comparison", ylabel="score")
    fig.axes[0].axhline(0.5, color="grey", linestyle=":", linewidth=1)
    fig.axes[0].set_ylim(0, 1)
    return fig


def build_report(metrics: dict[str, Any], scores: np.ndarray) -> Any:
    import pandas as pd

    from trackscope.report.html import Report
    from trackscope.report.plots import bar_chart

    data = metrics["data"]
    rep = Report(
        f"Hit potential ({metrics['input']})", subtitle=f"{data.get('path', '')} · sha256 {data.get('sha256', '')[:12]}"
    )
    rep.add_heading("Data")
    if "dedupe" in data:
        rep.add_table(data["dedupe"], caption="Rows after each step (same name+duration+popularity, same id)")
    rep.add_table(
        pd.DataFrame(metrics["splits"]).T.reset_index(names="split"),
        caption="Splits (75/15/10) and class balance" + (" — grouped by " + str(data["group_column"]))
        if data.get("group_column")
        else "Splits (75/15/10) and class balance",
    )
    rep.add_heading("Threshold")
    rule = metrics["threshold_rule"].get("rule", "")
    rep.add_text(
        f"Popular means {data.get('target', 'popularity')} ≥ {metrics['threshold']:g}, chosen from the training split "
        f"only (rule: {rule}; 'trough' = deepest dip between the two main modes of the histogram, 'median' = no clear "
        "dip, 'given' = set by the user)."
    )
    rep.add_figure(_histogram_figure(scores, metrics["threshold"], rule), "Training-split popularity with the cut")
    rep.add_heading("Models")
    table = pd.DataFrame(metrics["models"]).T.reset_index(names="model")
    rep.add_table(table, caption=f"Test and holdout scores (chosen on test ROC-AUC: {metrics['chosen_model']})")
    rep.add_figure(holdout_chart(metrics["models"]), "The study's holdout comparison chart")
    if metrics.get("curves"):
        rep.add_heading("Training curves")
        rep.add_figure(curves_figure(metrics["curves"]), "Per epoch: training (solid) and validation (dashed)")
    if metrics.get("calibration", {}).get("predicted"):
        rep.add_heading("Calibration")
        rep.add_figure(_calibration_figure(metrics["calibration"], metrics["chosen_model"]))
    if metrics.get("importance"):
        rep.add_heading("Feature importance")
        imp = metrics["importance"]
        rep.add_figure(
            bar_chart(
                [r["feature"] for r in imp],
                [r["importance"] for r in imp],
                errors=[r["std"] for r in imp],
                horizontal=True,
                title=f"Permutation importance ({metrics['chosen_model']}, test split)",
                xlabel="drop in ROC-AUC when shuffled",
            )
        )
    rep.add_heading("Reproducibility")
    rep.add_table({**metrics["parameters"], **metrics["versions"]}, caption="Parameters and library versions")
    return rep


def model_card(metrics: dict[str, Any]) -> str:
    chosen = metrics["chosen_model"]
    r = metrics["models"][chosen]
    data = metrics["data"]
    lines = [
        f"# Model card: hit potential ({metrics['input']}, {chosen})",
        "",
        f"- **Task**: popularity ≥ {metrics['threshold']:g} ('popular') vs below, from "
        + ("Spotify audio features and release metadata." if metrics["input"] == "table" else "mel spectrograms."),
        f"- **Data**: `{data.get('path', '')}` (sha256 `{data.get('sha256', '')}`), "
        f"{data.get('dedupe', {}).get('rows', '?')} tracks after dedupe.",
        f"- **Splits**: 75/15/10 train/test/holdout, seed {metrics['parameters']['seed']}"
        + (f", grouped by `{data['group_column']}`." if data.get("group_column") else "."),
        f"- **Threshold rule**: {metrics['threshold_rule'].get('rule')} (from the training split only).",
        f"- **Holdout**: accuracy {r['holdout_accuracy']:.3f}, ROC-AUC {r['holdout_roc_auc']:.3f} "
        f"(test: {r['test_accuracy']:.3f} / {r['test_roc_auc']:.3f}).",
        "",
        "## Intended use and limits",
        "",
        "Ranking unreleased songs by how much they resemble past popular ones in this data. Popularity depends on"
        " promotion, the artist's audience and timing, none of which a song's audio or features contain: the study"
        " reached 0.646 ROC-AUC from audio. Treat scores as a weak signal; they do not transfer across genres or eras"
        " without re-training.",
        "",
    ]
    return "\n".join(lines)


def write_model(trained: Any, out: Any, *, overwrite: bool | None = None) -> Path:
    """The folder of a trained popularity model (a :class:`trackscope.tasks.results.TrainedModel`), committed
    atomically: the model (pipeline.skops or weights.safetensors), metrics.json, curves.json (networks),
    report.html, holdout_comparison.png, curves.png (networks) and model_card.md."""
    from trackscope.report.folder import write_model_folder
    from trackscope.report.plots import figure_png

    metrics = trained.metrics
    scores = np.asarray(trained.report_data.get("train_scores", []), dtype=float)

    def add(writer: Any) -> None:
        if metrics.get("curves"):
            writer.add_json("curves.json", metrics["curves"])
        build_report(metrics, scores).write(writer.folder / "report.html")
        (writer.folder / "holdout_comparison.png").write_bytes(figure_png(holdout_chart(metrics["models"])))
        if metrics.get("curves"):
            (writer.folder / "curves.png").write_bytes(figure_png(curves_figure(metrics["curves"])))
        writer.add_text("model_card.md", model_card(metrics))

    return write_model_folder(trained, out, overwrite=overwrite, add=add)


def write_explanation(md: Any, explanation: Any, out: Any) -> None:
    """A table row's explanation as ``explain_row<N>.json``; an audio song's occlusion map drawn over its spectrogram
    as ``<stem>_occlusion.png`` (its path goes into the result as ``picture``; the dummy model has none)."""
    result = explanation.result
    if md.input == "table":
        from trackscope._json import write_json_atomic

        write_json_atomic(Path(out) / f"explain_row{result['row']}.json", result)
        return
    if not explanation.picture:
        return
    png = Path(out) / f"{Path(result['song']).stem}_occlusion.png"
    draw_occlusion(result, png, **explanation.picture)
    result["picture"] = str(png)


def draw_occlusion(
    result: dict[str, Any], png: Path, *, mel: Any, grid: Any, t_edges: Any, f_edges: Any, fps: float
) -> None:
    """The occlusion map (:func:`trackscope.tasks.popularity.explain.occlusion`) over the clip's mel spectrogram,
    with the driving 3-s stretch marked, written atomically to ``png``."""
    from trackscope._atomic import write_bytes
    from trackscope.report.plots import figure_png, new_figure

    fig = new_figure(10.0, 4.0)
    ax = fig.add_subplot()
    n_mels, n_frames = mel.shape
    ax.imshow(mel, origin="lower", aspect="auto", cmap="magma", extent=(0, n_frames / fps, 0, n_mels))
    span = float(np.abs(grid).max()) or 1e-9
    im = ax.pcolormesh(
        np.asarray(t_edges) / fps, np.asarray(f_edges), grid, cmap="coolwarm", alpha=0.55, vmin=-span, vmax=span
    )
    s = result["driving_stretch"]
    ax.axvspan(s["start_s"], s["end_s"], fill=False, edgecolor="lime", linewidth=2, label="driving 3-s stretch")
    fig.colorbar(im, ax=ax, label="drop in log-odds of a hit when hidden")
    ax.set_xlabel("seconds (centre clip)")
    ax.set_ylabel("mel band")
    ax.set_title(f"{Path(result['song']).name}: hit probability {result['hit_probability']:.2f}")
    ax.legend(loc="upper right", fontsize="small")
    write_bytes(png, figure_png(fig))
