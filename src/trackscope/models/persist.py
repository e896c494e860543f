"""Model folders that cannot execute code when loaded.

A model folder holds ``model.json`` (what the model is, what it needs, and the sha256 of every other file in it),
scikit-learn objects as ``*.skops`` (loaded only when every type inside is on an explicit trusted list), PyTorch
weights as ``*.safetensors`` and plain JSON/CSV/Markdown/HTML. Nothing is unpickled. A file whose hash differs from
``model.json`` is refused as tampered.

Folders are written to a temporary sibling and renamed into place, so a crash never leaves a half-written model.
An existing model folder is replaced only when asked (``overwrite``), and then only its own files (those its
``model.json`` lists): trackscope never deletes a file it did not write.
``builtin:NAME`` names a model folder shipped inside the package (``trackscope/models/builtin/NAME``).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from trackscope._hash import file_sha256
from trackscope._json import dumps
from trackscope.errors import ModelError

FORMAT = "trackscope-model"
FORMAT_VERSION = 1
MODEL_JSON = "model.json"
BUILTIN_PREFIX = "builtin:"
BUILTIN_DIR = Path(__file__).parent / "builtin"

# Module prefixes whose types may appear inside a .skops file. skops refuses anything else unless listed here;
# we list exact type names found in the file that start with these prefixes, never "trust everything".
TRUSTED_PREFIXES: tuple[str, ...] = ("sklearn.", "numpy.", "scipy.", "trackscope.", "builtins.", "collections.")


def skops_bytes(obj: Any) -> bytes:
    """``obj`` in the skops format: exactly what ``skops.io.dumps`` writes, except that ``schema.json`` is compact
    JSON instead of indented (skops indents it, which runs Python's pure-Python JSON encoder over every node: 2.2 of
    the 3.5 s it took to save the mood ensemble; compact, the C encoder takes ~0.1 s). Same objects, same arrays,
    same schema once parsed; ``skops.io.load`` reads it as it reads its own. Falls back to ``skops.io.dumps`` where
    skops' saving internals differ from the version this was written against."""
    import io
    import zipfile

    import skops
    import skops.io as sio

    try:
        from skops.io._persist import SaveContext, get_state
    except ImportError:  # pragma: no cover — another skops layout
        return sio.dumps(obj)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as zf:
        context = SaveContext(zip_file=zf)
        state = get_state(obj, context)
        context.clear_memo()
        state["protocol"] = context.protocol
        state["_skops_version"] = skops.__version__
        zf.writestr("schema.json", json.dumps(state, separators=(",", ":")))
    return buffer.getvalue()


def resolve_model_path(path: str | Path) -> Path:
    """``builtin:mood`` → the packaged folder; anything else → ``Path(path)``."""
    text = str(path)
    if text.startswith(BUILTIN_PREFIX):
        name = text[len(BUILTIN_PREFIX) :]
        folder = BUILTIN_DIR / name
        if not (folder / MODEL_JSON).is_file():
            available = sorted(p.name for p in BUILTIN_DIR.glob("*") if (p / MODEL_JSON).is_file())
            raise ModelError(f"no built-in model named {name!r} (available: {', '.join(available) or 'none'})")
        return folder
    return Path(path)


# ``overwrite`` for every model folder written in this context (see :func:`allow_overwrite`): lets the api's train
# functions pass ``overwrite=True`` down to the :class:`ModelWriter` of any task without threading it through each.
_OVERWRITE: ContextVar[bool] = ContextVar("trackscope_model_overwrite", default=False)


@contextmanager
def allow_overwrite(enabled: bool = True) -> Iterator[None]:
    """Inside this block, :class:`ModelWriter` (created without an explicit ``overwrite``) may replace an existing
    model folder's own files; see :func:`check_model_output`."""
    token = _OVERWRITE.set(bool(enabled))
    try:
        yield
    finally:
        _OVERWRITE.reset(token)


def overwrite_allowed() -> bool:
    """Whether :func:`allow_overwrite` is in force here."""
    return _OVERWRITE.get()


def _own_files(out: Path) -> list[str]:
    """The files an existing model folder's ``model.json`` says trackscope wrote (relative POSIX paths), plus
    ``model.json`` itself. Raises :class:`ModelError` when ``model.json`` is not a trackscope model description."""
    try:
        meta = json.loads((out / MODEL_JSON).read_text())
    except (OSError, ValueError) as err:
        raise ModelError(f"{MODEL_JSON} is unreadable ({err}); not replacing this folder", path=out) from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or not isinstance(meta.get("files", {}), dict):
        raise ModelError(f"{MODEL_JSON} is not a trackscope model description; not replacing this folder", path=out)
    names = []
    for name in meta.get("files", {}):
        rel = PurePosixPath(str(name))
        # a hand-edited model.json must not make trackscope delete anything outside the folder
        if rel.is_absolute() or not rel.parts or any(part in ("", ".", "..") for part in rel.parts):
            raise ModelError(f"{MODEL_JSON} lists a file outside the folder ({name!r}); not replacing it", path=out)
        names.append(rel.as_posix())
    return [*names, MODEL_JSON]


def check_model_output(out: str | Path, *, overwrite: bool = False) -> Path:
    """Fail fast (before any training) on an ``--out`` that cannot become a model folder.

    A missing or empty folder is fine. A non-empty one is refused unless ``overwrite`` is True, and even then only a
    trackscope model folder (one with a ``model.json``) is accepted: only its own files (those its ``model.json``
    lists, and ``model.json``) are replaced; anything else in it is kept.
    """
    from trackscope._atomic import output_folder

    out = Path(out)
    output_folder(out, create=False)
    if out.parent.exists() and not out.parent.is_dir():
        raise ModelError("the parent of the output folder is a file", path=out)
    if out.is_dir() and any(out.iterdir()):
        if not (out / MODEL_JSON).is_file():
            raise ModelError(
                f"output folder exists, is not empty and is not a trackscope model folder (no {MODEL_JSON}); "
                "choose another out (--out)",
                path=out,
            )
        if not overwrite:
            raise ModelError(
                "output folder already holds a model; give overwrite=True (--overwrite) to replace the model's own "
                "files (other files in it are kept), or choose another out (--out)",
                path=out,
            )
        _own_files(out)
    return out


@dataclass
class ModelWriter:
    """Collects a model's files in a temporary folder; :meth:`commit` moves them into place.

    A new (or empty) ``out`` is the temporary folder renamed into place: atomic. An existing model folder (allowed
    only with ``overwrite``; by default the value :func:`allow_overwrite` set) gets each new file renamed over the
    old one (each rename atomic), ``model.json`` last, so until the new ``model.json`` lands the old one still
    describes the folder and :func:`load_model_dir` refuses the mixture as modified rather than loading it; then the
    old model's files that the new one lacks are removed. Files the old ``model.json`` does not list stay untouched.
    """

    out: Path
    meta: dict[str, Any]
    overwrite: bool | None = None
    _tmp: Path = field(init=False)

    def __post_init__(self) -> None:
        if self.overwrite is None:
            self.overwrite = _OVERWRITE.get()
        self.out = check_model_output(self.out, overwrite=self.overwrite)
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.tmp-", dir=self.out.parent))

    @property
    def folder(self) -> Path:
        """The temporary folder being filled (plots and reports may be written here directly)."""
        return self._tmp

    def add_sklearn(self, name: str, obj: Any, *, data: bytes | None = None) -> None:
        """``<name>.skops``: ``obj`` in the skops format (``data``: its :func:`skops_bytes`, made elsewhere)."""
        (self._tmp / f"{name}.skops").write_bytes(skops_bytes(obj) if data is None else data)

    def add_tensors(self, name: str, tensors: Mapping[str, Any]) -> None:
        """Save a dict of torch tensors or numpy arrays as safetensors."""
        import numpy as np

        if all(isinstance(v, np.ndarray) for v in tensors.values()):
            from safetensors.numpy import save_file

            save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, str(self._tmp / f"{name}.safetensors"))
        else:
            from safetensors.torch import save_file as save_torch

            save_torch(
                {k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(self._tmp / f"{name}.safetensors")
            )

    def add_json(self, name: str, obj: Any) -> None:
        (self._tmp / name).write_text(dumps(obj) + "\n")

    def add_text(self, name: str, text: str) -> None:
        (self._tmp / name).write_text(text, encoding="utf-8")

    def commit(self) -> Path:
        files = {}
        for p in sorted(self._tmp.rglob("*")):
            if p.is_file() and p.name != MODEL_JSON:
                files[p.relative_to(self._tmp).as_posix()] = file_sha256(p)
        meta = {"format": FORMAT, "format_version": FORMAT_VERSION, **self.meta, "files": files}
        self.add_json(MODEL_JSON, meta)
        from trackscope._atomic import default_mode

        os.chmod(self._tmp, default_mode(directory=True))  # mkdtemp makes 0700 folders
        for p in self._tmp.rglob("*"):  # and some writers (safetensors) make 0600 files
            os.chmod(p, default_mode(directory=p.is_dir()))
        try:  # checked again: the folder may have changed while the model trained
            check_model_output(self.out, overwrite=bool(self.overwrite))
        except BaseException:
            self.abort()
            raise
        if self.out.is_dir() and any(self.out.iterdir()):
            self._replace_into(list(files))
        else:
            if self.out.is_dir():
                self.out.rmdir()  # empty: nothing of anyone's is lost
            os.replace(self._tmp, self.out)
        return self.out

    def _replace_into(self, new_files: list[str]) -> None:
        """Move the new files over an existing model folder's own files, model.json last; keep everything else."""
        old_files = _own_files(self.out)
        for name in [*new_files, MODEL_JSON]:
            target = self.out / name
            if target.is_dir() and not target.is_symlink():
                self.abort()
                raise ModelError(f"{name} in the output folder is a folder; move it away first", path=self.out)
        try:
            for name in [*new_files, MODEL_JSON]:  # each rename is atomic; model.json, the commit point, goes last
                target = self.out / name
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(self._tmp / name, target)
        except BaseException:
            self.abort()
            raise
        keep = set(new_files) | {MODEL_JSON}
        root = self.out.resolve()
        for name in old_files:
            if name not in keep:
                stale = self.out / name
                if not stale.parent.resolve().is_relative_to(root):
                    continue  # reached through a link to somewhere else: not this folder's to delete
                if stale.is_file() or stale.is_symlink():
                    stale.unlink()
                parent = stale.parent
                while parent != self.out and parent.is_dir() and not any(parent.iterdir()):
                    parent.rmdir()  # a sub-folder only the old model used
                    parent = parent.parent
        shutil.rmtree(self._tmp, ignore_errors=True)  # only empty sub-folders are left in it

    def abort(self) -> None:
        shutil.rmtree(self._tmp, ignore_errors=True)


@dataclass
class ModelDir:
    """A verified model folder: ``meta`` is its ``model.json``."""

    path: Path
    meta: dict[str, Any]

    @property
    def task(self) -> str:
        return str(self.meta.get("task"))

    @property
    def input(self) -> str:
        return str(self.meta.get("input", "table"))

    def file(self, name: str) -> Path:
        if name not in self.meta.get("files", {}):
            raise ModelError(f"model folder has no file {name!r}", path=self.path)
        return self.path / name

    def load_sklearn(self, name: str) -> Any:
        import skops.io as sio

        file = self.file(f"{name}.skops")
        untrusted = sio.get_untrusted_types(file=file)
        refused = [t for t in untrusted if not t.startswith(TRUSTED_PREFIXES)]
        if refused:
            raise ModelError(f"refusing to load {file.name}: it contains untrusted types {refused}", path=self.path)
        try:
            return sio.load(file, trusted=untrusted)
        except Exception as err:  # noqa: BLE001 — a corrupt file is bad input, not a bug
            raise ModelError(f"cannot load {file.name}: {err}", path=self.path) from None

    def load_tensors(self, name: str) -> dict[str, Any]:
        """Weights as numpy arrays (callers convert to torch as needed)."""
        from safetensors.numpy import load_file

        return load_file(str(self.file(f"{name}.safetensors")))

    def load_json(self, name: str) -> Any:
        return json.loads(self.file(name).read_text())


def load_model_dir(path: str | Path, *, verify: bool = True) -> ModelDir:
    """Open a model folder (or ``builtin:NAME``) and verify every file against the hashes in ``model.json``."""
    folder = resolve_model_path(path)
    meta_path = folder / MODEL_JSON
    if not folder.is_dir():
        raise ModelError("no such model folder", path=folder)
    if not meta_path.is_file():
        raise ModelError(f"not a trackscope model folder (no {MODEL_JSON})", path=folder)
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError) as err:
        raise ModelError(f"{MODEL_JSON} is unreadable: {err}", path=folder) from None
    if meta.get("format") != FORMAT:
        raise ModelError(f"{MODEL_JSON} is not a trackscope model description", path=folder)
    if int(meta.get("format_version", 0)) > FORMAT_VERSION:
        raise ModelError(
            f"model format {meta.get('format_version')} is newer than this trackscope understands "
            f"({FORMAT_VERSION}); upgrade trackscope",
            path=folder,
        )
    if verify:
        for name, digest in meta.get("files", {}).items():
            fp = folder / name
            if not fp.is_file():
                raise ModelError(f"model file {name} is missing", path=folder)
            if file_sha256(fp) != digest:
                raise ModelError(
                    f"model file {name} was modified after saving (sha256 mismatch); refusing to load", path=folder
                )
    return ModelDir(folder, meta)
