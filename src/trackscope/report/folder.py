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
    scikit-learn object (``<name>.skops``) and tensor set (``<name>.safetensors``), ``metrics.json``, and whatever
    ``add(writer)`` puts in ``writer.folder`` (first: objects serialised elsewhere meanwhile, see
    ``TrainedModel.serialized``, are collected after it). Nothing lands in ``out`` unless all of it was written
    (``overwrite``: see :class:`~trackscope.models.persist.ModelWriter`; None: as
    :func:`~trackscope.models.persist.allow_overwrite` set it)."""
    from trackscope.models.persist import ModelWriter

    writer = ModelWriter(Path(out), trained.meta, overwrite=overwrite)
    try:
        writer.add_json("metrics.json", trained.metrics)
        if add is not None:
            add(writer)
        for name, obj in trained.sklearn.items():
            made = trained.serialized.get(name)
            writer.add_sklearn(name, obj, data=None if made is None else made())
        for name, tensors in trained.tensors.items():
            writer.add_tensors(name, tensors)
        return writer.commit()
    except BaseException:
        writer.abort()
        raise
