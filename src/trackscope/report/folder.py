"""A trained model's folder: its objects and metrics through :class:`trackscope.models.persist.ModelWriter`, plus the
files the report layer adds (model card, report.html, pictures), committed as one atomic step."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any


def write_model_folder(
    trained: Any, out: str | Path, *, overwrite: bool | None = None, add: Callable[[Any], None] | None = None
) -> Path:
    """Write a :class:`trackscope.tasks.results.TrainedModel` to ``out``: ``model.json`` (its ``meta``), every
    scikit-learn object (``<name>.skops``) and tensor set (``<name>.safetensors``), ``metrics.json``, then whatever
    ``add(writer)`` puts in ``writer.folder``. Nothing lands in ``out`` unless all of it was written (``overwrite``:
    see :class:`~trackscope.models.persist.ModelWriter`; None: as :func:`~trackscope.models.persist.allow_overwrite`
    set it)."""
    from trackscope.models.persist import ModelWriter

    writer = ModelWriter(Path(out), trained.meta, overwrite=overwrite)
    try:
        for name, obj in trained.sklearn.items():
            writer.add_sklearn(name, obj)
        for name, tensors in trained.tensors.items():
            writer.add_tensors(name, tensors)
        writer.add_json("metrics.json", trained.metrics)
        if add is not None:
            add(writer)
        return writer.commit()
    except BaseException:
        writer.abort()
        raise
