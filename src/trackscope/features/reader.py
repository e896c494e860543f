"""Read a feature store written by :func:`trackscope.features.store.extract` (layout: see that module)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trackscope.errors import TrackscopeError
from trackscope.features.entries import read_table

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["FeatureStore", "fit_frames"]


def fit_frames(mel: np.ndarray, frames: int | None) -> np.ndarray:
    """Centre-crop or pad (with the mel's minimum, both sides) a (n_mels, t) array to ``frames`` columns."""
    import numpy as np

    if frames is None or mel.shape[1] == frames:
        return mel
    if frames < 1:
        raise ValueError(f"frames must be >= 1, got {frames}")
    t = mel.shape[1]
    if t > frames:
        start = (t - frames) // 2
        return mel[:, start : start + frames]
    pad = frames - t
    fill = float(mel.min()) if mel.size else -100.0
    return np.pad(mel, ((0, 0), (pad // 2, pad - pad // 2)), constant_values=fill)


class FeatureStore:
    """Read a store written by :func:`extract` (or ``trackscope extract``).

    Examples
    --------
    >>> store = FeatureStore("features/")  # doctest: +SKIP
    >>> table = store.descriptors()  # one row per song: path, sha256, tempo, loudness_lufs, ...  # doctest: +SKIP
    >>> for path, sha, mel in store.iter_mels():  # float32 (128, frames) log-mel  # doctest: +SKIP
    ...     ...
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.root = Path(path)
        if not (self.root / "store.json").is_file():
            raise TrackscopeError("not a trackscope feature store (no store.json); run `trackscope extract`", path=path)
        self._index: pd.DataFrame | None = None
        self._keys: dict[str, tuple[str, str, Any]] | None = None

    def index(self) -> pd.DataFrame:
        """One row per file: path, sha256, size, mtime_ns, duration, source_sr, channels, silent, mel_file, ..."""
        if self._index is None:
            frame = read_table(self.root, "index")
            if frame is None:
                raise TrackscopeError("the store has no index yet (an extract run did not finish)", path=self.root)
            self._index = frame
        return self._index

    def descriptors(self) -> pd.DataFrame:
        """The descriptor table (Parquet, or the CSV copy): path, sha256 and one column per descriptor."""
        frame = read_table(self.root, "descriptors")
        if frame is None:
            raise TrackscopeError(
                "the store has no descriptors (extract with what=['descriptors'], --what descriptors)", path=self.root
            )
        return frame

    def failures(self) -> pd.DataFrame:
        import pandas as pd

        p = self.root / "failures.csv"
        return pd.read_csv(p) if p.is_file() else pd.DataFrame(columns=["path", "reason"])

    def __len__(self) -> int:
        return len(self.index())

    def _lookup(self) -> dict[str, tuple[str, str, Any]]:
        """path and sha256 → (path, sha256, mel_file), built once (O(1) per ``mel()`` call in training loops)."""
        if self._keys is None:
            idx = self.index()
            keys: dict[str, tuple[str, str, Any]] = {}
            for path, sha, mel_file in zip(idx["path"], idx["sha256"], idx["mel_file"], strict=True):
                entry = (str(path), str(sha), mel_file)
                keys.setdefault(str(sha), entry)
                keys[str(path)] = entry
            self._keys = keys
        return self._keys

    def _mel_path(self, key: str | os.PathLike) -> tuple[str, str, Path]:
        keys = self._lookup()
        key_s = str(key)
        hit = keys.get(key_s) or keys.get(os.path.abspath(key_s))
        if hit is None:
            raise TrackscopeError("not in the feature store", path=key_s)
        path, sha, mel_file = hit
        if not isinstance(mel_file, str) or not mel_file:
            raise TrackscopeError(
                "the store holds no mel spectrogram for it (extract with what=['mel'], --what mel)", path=key_s
            )
        return path, sha, self.root / mel_file

    def mel(self, key: str | os.PathLike, *, frames: int | None = None) -> np.ndarray:
        """The log-mel spectrogram (n_mels, frames), float32 dB, of a path or sha256 in the store. ``frames``: a
        fixed width for batching — the centre ``frames`` columns, or the whole mel padded on both sides with its
        own minimum (the quietest value it holds) when it is shorter."""
        import numpy as np

        _, _, p = self._mel_path(key)
        return fit_frames(np.load(p, allow_pickle=False).astype(np.float32), frames)

    def iter_mels(
        self, *, shuffle: bool = False, seed: int = 0, frames: int | None = None
    ) -> Iterator[tuple[str, str, np.ndarray]]:
        """Yields ``(path, sha256, mel float32)`` for every file with a mel, one file in memory at a time
        (``shuffle`` with ``seed`` for training epochs; ``frames`` as in :meth:`mel`)."""
        import numpy as np

        idx = self.index()
        idx = idx[idx["mel_file"].map(lambda v: isinstance(v, str) and bool(v))]
        order = np.arange(len(idx))
        if shuffle:
            np.random.default_rng(seed).shuffle(order)
        for i in order:
            row = idx.iloc[int(i)]
            mel = np.load(self.root / row["mel_file"], allow_pickle=False).astype(np.float32)
            yield str(row["path"]), str(row["sha256"]), fit_frames(mel, frames)
