"""What tasks hand upwards: results, never files.

Tasks compute; the report layer (:mod:`trackscope.report`) writes model folders, cards, HTML reports and pictures from
these; :mod:`trackscope.api` calls one, then the other. Nothing here imports numpy or writes anything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class TrainedModel:
    """A trained model and everything its folder records (see :mod:`trackscope.models.persist` for the format).

    ``meta`` becomes ``model.json`` (``task`` and ``input`` name the task that reads the folder back), ``metrics``
    becomes ``metrics.json`` and is what training returns to its caller, ``sklearn`` holds scikit-learn objects saved
    as ``<name>.skops``, ``tensors`` arrays saved as ``<name>.safetensors``, and ``report_data`` what the report needs
    beyond the metrics (e.g. the training split's popularity scores for the threshold histogram); it is not saved.
    ``serialized`` may hold, for a name in ``sklearn``, a function returning that object's ``.skops`` bytes already
    being made elsewhere (a worker process serialises while the report is drawn).
    """

    meta: dict[str, Any]
    metrics: dict[str, Any]
    sklearn: dict[str, Any] = field(default_factory=dict)
    tensors: dict[str, Any] = field(default_factory=dict)
    report_data: dict[str, Any] = field(default_factory=dict)
    serialized: dict[str, Callable[[], bytes]] = field(default_factory=dict)

    @property
    def task(self) -> str:
        return str(self.meta["task"])

    @property
    def input(self) -> str:
        return str(self.meta["input"])


@dataclass
class Explanation:
    """Why a model scores a song or a row: ``result`` is what ``explain`` returns (and writes as JSON); ``picture``
    holds what a picture of it needs beyond ``result`` (e.g. an occlusion map's spectrogram and grid), empty when
    there is nothing to draw."""

    result: dict[str, Any]
    picture: dict[str, Any] = field(default_factory=dict)


@dataclass
class Analysis:
    """The outcome of ``analyze``: ``result`` (songs, failures, the mood model; what ``analysis.json`` holds) and
    ``figures``, the songs' report pictures (PNG bytes by path) that worker processes drew while analysing."""

    result: dict[str, Any]
    figures: dict[str, bytes] = field(default_factory=dict)
