"""Writing an audio mood model folder: pipeline, novelty arrays, metrics, model card and report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trackscope.constants import QUADRANT_WORDS


def write_model(trained: Any, out: str | Path, *, overwrite: bool | None = None, card_extra: str = "") -> Path:
    """The folder of a trained audio mood model (a :class:`trackscope.tasks.results.TrainedModel`), committed
    atomically: pipeline.skops, novelty.safetensors, metrics.json, model_card.md (``card_extra`` appended) and
    report.html."""
    from trackscope.report.folder import write_model_folder

    metrics = trained.metrics

    def add(writer: Any) -> None:
        writer.add_text("model_card.md", model_card(metrics, card_extra))
        report(metrics).write(writer.folder / "report.html")

    return write_model_folder(trained, out, overwrite=overwrite, add=add)


def model_card(metrics: dict[str, Any], extra: str = "") -> str:
    cv = metrics["cv"]
    choice = _choice(metrics)
    lines = [
        "# Mood from audio — model card",
        "",
        f"- Date: {metrics['date']}",
        f"- Labels: `{metrics['data']['labels_file']}` (sha256 `{metrics['data']['sha256']}`), "
        f"{metrics['data']['rows']} clips; class counts {metrics['data']['class_counts']}",
        f"- Classes: {', '.join(f'{c} ({QUADRANT_WORDS.get(c, c)})' for c in metrics['classes'])}",
        f"- Features: {metrics['features']['embed_model']} layers {', '.join(metrics['features']['layers'])} "
        "(mean and std over 3-s patches of the channels that depend on the input; dead filters left out) + "
        "trackscope descriptors; one row per 30-s window (a clip under 35 s is its centre 30 s; a song is scored "
        "as the duration-weighted mean of its windows, the same in training, evaluate, predict and analyze)",
        "- Near-constant inputs (spread within float rounding of their magnitude) are dropped before scaling, so no "
        "rounding difference between CPUs can move a prediction",
        f"- Chosen model: **{metrics['chosen_model']}** (by {metrics['cv_protocol']['folds']}-fold "
        f"{'artist-grouped ' if metrics['cv_protocol']['grouped_by'] else ''}CV macro-F1), "
        f"params {cv[metrics['chosen_model']]['params']}",
        f"- Choice rule: {choice['rule']}",
        *([f"- Overfitting: {choice['note']}"] if choice["note"] else []),
        f"- Out-of-fold macro-F1 {metrics['oof']['macro_f1']:.3f}, accuracy {metrics['oof']['accuracy']:.3f} "
        f"(n = {metrics['oof']['n']})",
        "",
        "| model | CV macro-F1 mean | sd | train |",
        "|---|---|---|---|",
    ]
    lines += [f"| {m} | {r['mean']:.3f} | {r['std']:.3f} | {r['train']:.3f} |" for m, r in cv.items()]
    lines += [
        "",
        "Inputs unlike the training clips (noise, speech, test tones, styles far from the training music) still get a",
        "mood from any classifier; `novelty.safetensors` (when present) describes the training clips, and predictions",
        "report `novelty` in [0, 1] (the share of held-out training clips closer to the training data) and `unusual`",
        "above 0.99 — treat those moods as guesses (`trackscope.models.novelty`).",
        "",
        f"Versions: {metrics['versions']}",
        "",
        *(_measured_on(metrics["machine"]) if metrics.get("machine") else []),
    ]
    if extra:
        lines += [extra, ""]
    return "\n".join(lines)


def _measured_on(m: dict[str, Any]) -> list[str]:
    """Where the card's numbers were measured: features computed afresh from the audio on this machine."""
    simd = ", ".join(m.get("numpy_simd") or []) or "?"
    return [
        f"Measured on: {m.get('cpu', '?')} ({m.get('cores', '?')} cores), torch ISA {m.get('torch_isa', '?')}, "
        f"numpy SIMD {simd}; {m.get('os', '')}. The scores come from features computed from the audio on that "
        "machine by this feature version (the clip cache is keyed by file content and feature configuration).",
        "",
    ]


def _choice(metrics: dict[str, Any]) -> dict[str, Any]:
    """The choice rule and the chosen model's overfitting flag in words (see
    :func:`trackscope.evaluation.describe_choice`)."""
    from trackscope.evaluation import describe_choice, overfit_flag

    models = metrics.get("models") or {  # metrics written before "models" was added
        n: {"cv_mean": r["mean"], "gap": r["train"] - r["mean"], "overfit": overfit_flag(r["train"], r["mean"])}
        for n, r in metrics["cv"].items()
    }
    return describe_choice(models, metrics["chosen_model"], score="macro-F1")


def report(metrics: dict[str, Any]) -> Any:
    import pandas as pd

    from trackscope.report.html import Report
    from trackscope.report.plots import bar_chart, heatmap

    rep = Report(
        "Mood from audio", subtitle=f"{metrics['data']['rows']} labelled clips, {len(metrics['classes'])} classes"
    )
    rep.add_heading("Models (cross-validation)")
    grouped = "artist-grouped " if metrics["cv_protocol"]["grouped_by"] else ""
    choice = _choice(metrics)
    rep.add_text(
        f"{metrics['cv_protocol']['folds']}-fold {grouped}cross-validation, macro-F1. Choice rule: {choice['rule']}. "
        f"Chosen: {metrics['chosen_model']}. A train score far above the CV score means the model memorises."
    )
    if choice["note"]:
        rep.add_text(f"Overfitting: {choice['note']}", note=True)
    frame = pd.DataFrame(
        [
            {
                "model": m,
                "cv_macro_f1": r["mean"],
                "sd": r["std"],
                "train": r["train"],
                "gap": r["train"] - r["mean"],
                "params": str(r["params"]),
            }
            for m, r in metrics["cv"].items()
        ]
    )
    rep.add_table(frame)
    rep.add_figure(
        bar_chart(
            frame["model"].tolist(),
            frame["cv_macro_f1"].tolist(),
            errors=frame["sd"].tolist(),
            title="CV macro-F1",
            ylabel="macro-F1",
        )
    )
    oof = metrics["oof"]
    rep.add_heading("Out-of-fold diagnostics (chosen model)")
    rep.add_text(f"accuracy {oof['accuracy']:.3f}, macro-F1 {oof['macro_f1']:.3f}, n {oof['n']}")
    rep.add_table(pd.DataFrame(oof["per_class"]).T.reset_index(names="class"), "Per-class precision / recall")
    labels = oof["confusion"]["labels"]
    rep.add_figure(
        heatmap(
            oof["confusion"]["matrix"],
            labels,
            labels,
            title="Confusion (counts)",
            fmt="{:.0f}",
            xlabel="predicted",
            ylabel="true",
        )
    )
    rep.add_figure(
        heatmap(
            oof["confusion"]["normalized"],
            labels,
            labels,
            title="Confusion (row-normalised)",
            xlabel="predicted",
            ylabel="true",
        )
    )
    if metrics["data"]["failed_audio"]:
        rep.add_heading("Clips that could not be used")
        rep.add_table(pd.DataFrame(metrics["data"]["failed_audio"]))
    return rep
