"""JSON helpers shared by the library and the CLI: numpy values → plain Python, NaN/inf → null."""

from __future__ import annotations

import json
import math
from typing import Any


def to_jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if hasattr(obj, "tolist"):  # numpy scalars and arrays
        return to_jsonable(obj.tolist())
    if hasattr(obj, "__fspath__"):
        return str(obj)
    return obj


def dumps(obj: Any, **kwargs: Any) -> str:
    return json.dumps(to_jsonable(obj), allow_nan=False, **{"indent": 2, **kwargs})


def write_json_atomic(path: Any, obj: Any) -> None:
    """Write JSON to a temp file beside ``path`` and rename it into place."""
    from trackscope._atomic import write_text

    write_text(path, dumps(obj) + "\n")
