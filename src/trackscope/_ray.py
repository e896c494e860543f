"""``--engine ray``: per-file work on a Ray cluster (Ray Data batch inference), results streamed to the driver.

The driver lists the files (and, for ``extract``, hashes them and decides what is missing, exactly as the local
engine does); :func:`map_files` then runs ``work(state, local_path, path, job)`` for each file in a pool of Ray
actors (one CPU each, one GPU each where the cluster has GPUs). Each actor calls ``setup(*setup_args)`` once (loading
musicnn and the mood head) and reads each file's bytes itself, from the local disk or from S3 (``s3://bucket/key``,
through pyarrow), into a temporary file named like the original, so the very same per-file functions as the local
engine decode it. Results come back to the driver as they finish, in any order; the caller writes them (the feature
store, the analysis) — workers never write outputs.

Failures: ``work`` never raises (a bad file is a result saying why). A worker process that dies (killed, out of
memory, a decoder that crashes the process) is restarted by Ray and its batch retried; a file that was being
worked on when its worker died :data:`MAX_CRASHES` times is reported as a failure instead of being tried again, and
the rest of the batch goes on. The driver keeps one result per file, whatever the retries.

Ray is optional (``pip install 'trackscope[ray]'``); importing this module does not import it.
"""

from __future__ import annotations

import logging
import os
import pickle
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from trackscope.errors import TrackscopeError

ENGINES = ("local", "ray")
MAX_CRASHES = 2  # a file whose worker died this many times while working on it is a failure, not tried again
LOOPBACK = "127.0.0.1"
INSTALL_HINT = "--engine ray needs Ray: pip install 'trackscope[ray]' (or: pip install 'ray[data]')"

Work = Callable[[Any, str, str, Any], Any]


def check_engine(engine: str, address: str | None = None) -> str:
    """``engine`` as given when it is "local" or "ray" (and then Ray is importable, and something answers at
    ``address`` when one other than "auto" is given); else a TrackscopeError."""
    if engine not in ENGINES:
        raise TrackscopeError(f"engine (--engine) must be one of {', '.join(ENGINES)}; got {engine!r}")
    if engine == "ray":
        try:
            import ray  # noqa: F401
            import ray.data  # noqa: F401
        except ImportError:
            raise TrackscopeError(INSTALL_HINT) from None
        if address not in (None, "", "auto"):
            _probe(address)
    return engine


def is_s3(path: str | os.PathLike) -> bool:
    """``s3://bucket/key`` (also as a ``Path`` made it: ``s3:/bucket/key``)."""
    return str(path).startswith("s3:/")


def s3_uri(path: str | os.PathLike) -> str:
    """``s3://bucket/key`` for an :func:`is_s3` input, however a ``Path`` folded its slashes."""
    return "s3://" + str(path)[len("s3:/") :].lstrip("/")


@contextmanager
def connected(address: str | None = "auto") -> Iterator[None]:
    """Ray, initialised: as it is when this process already joined a cluster; else ``address`` ("auto": a running
    cluster if there is one — ``RAY_ADDRESS`` or one started with ``ray start`` on this machine — else a local one
    started for this job and stopped after it)."""
    import ray

    if ray.is_initialized():
        yield
        return
    # "error": Ray's own start-up notices (token authentication, ...) would crowd the progress bar on stderr
    kw: dict[str, Any] = {"log_to_driver": False, "logging_level": "error", "configure_logging": True}
    try:
        if address in (None, "", "auto"):
            try:
                ray.init(address="auto", **kw)
            except (ConnectionError, RuntimeError):
                # a cluster of this machine alone: on loopback, nothing listening on the network
                _loopback_only()
                ray.init(include_dashboard=False, _node_ip_address=LOOPBACK, **kw)
        else:
            _probe(address)  # Ray itself would retry an unreachable address for minutes
            if _is_loopback(address):  # else Ray reaches it through the machine's network address
                kw["_node_ip_address"] = LOOPBACK
            ray.init(address=address, **kw)
    except TrackscopeError:
        raise
    except Exception as err:  # noqa: BLE001 — a wrong address is bad input, said in one line
        raise TrackscopeError(f"cannot join the Ray cluster at {address!r}: {err}") from None
    try:
        yield
    finally:
        ray.shutdown()


def _loopback_only() -> None:
    """Keep a cluster this job starts for itself on 127.0.0.1. Even told ``_node_ip_address=127.0.0.1``, Ray resolves
    "localhost" to the machine's network address and connects there, unless its "local Ray only" switch
    (``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``, read when Ray is imported) is off: set for the processes the cluster
    starts (they inherit the environment) and for this driver (already imported: its constant is set directly).
    Only for a cluster started here: a driver joining a real cluster must find its network address."""
    os.environ.setdefault(_LOCAL_ONLY_ENV, "0")
    if os.environ[_LOCAL_ONLY_ENV] != "0":
        return  # the user asked otherwise
    try:
        from ray._private import ray_constants

        ray_constants.ENABLE_RAY_CLUSTER = False
    except (ImportError, AttributeError):  # pragma: no cover — another Ray layout: the environment still applies
        pass


_LOCAL_ONLY_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def _probe(address: str, timeout: float = 5.0) -> None:
    """A TrackscopeError at once when nothing answers at ``[ray://]HOST:PORT``."""
    import socket

    host, _, port = address.split("://", 1)[-1].rpartition(":")
    if not host or not port.isdigit():
        raise TrackscopeError(
            f"ray_address (--ray-address) must be auto, HOST:PORT or ray://HOST:PORT; got {address!r}"
        )
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            pass
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise TrackscopeError(f"cannot reach the Ray cluster at {address} ({reason})") from None


def _is_loopback(address: str) -> bool:
    host = address.split("://", 1)[-1].rsplit(":", 1)[0].strip("[]")
    return host == "localhost" or host.startswith("127.") or host == "::1"


def _cluster_slots(use_gpus: bool) -> tuple[int, bool]:
    """How many actors to run (one per CPU, or one per GPU where the cluster has GPUs) and whether GPUs are used."""
    import ray

    res = ray.cluster_resources()
    gpus = int(res.get("GPU", 0)) if use_gpus else 0
    if gpus:
        return gpus, True
    return max(1, int(res.get("CPU", 1))), False


class _Ledger:
    """Which files a worker started and never finished (its process died): counted across restarts.

    One round trip per file: ``step(finished, key)`` ends the previous file of the batch and begins the next; the
    last file of a batch is ended with ``step(last, None)`` before the batch returns (so a batch that returned has
    nothing left open)."""

    def __init__(self) -> None:
        self.started: dict[int, int] = {}

    def step(self, finished: int | None, key: int | None) -> int:
        """End ``finished`` (None: none), begin ``key`` (None: none); how many earlier attempts at ``key`` died."""
        if finished is not None:
            self.started.pop(finished, None)
        if key is None:
            return 0
        self.started[key] = self.started.get(key, 0) + 1
        return self.started[key] - 1


def read_bytes(path: str) -> bytes:
    """A file's bytes: a local path, or ``s3://bucket/key`` through pyarrow's S3 filesystem (credentials, region
    and endpoint from the usual AWS variables; ``AWS_ENDPOINT_URL`` for S3-compatible stores)."""
    if is_s3(path):
        fs = _s3_filesystem()
        with fs.open_input_stream(path[len("s3://") :]) as f:
            return f.read()
    with open(path, "rb") as f:
        return f.read()


def _s3_filesystem() -> Any:
    from pyarrow import fs

    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    kw: dict[str, Any] = {}
    if endpoint:
        scheme, _, rest = endpoint.partition("://")
        kw = {"endpoint_override": rest or scheme, "scheme": scheme if rest else "https"}
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if region:
        kw["region"] = region
    return fs.S3FileSystem(**kw)


def unreadable(err: OSError) -> str:
    """Why a file could not be read, as failure lists say it."""
    return f"cannot read the file ({getattr(err, 'strerror', None) or err})"


@contextmanager
def local_copy(path: str, scratch: str | None = None) -> Iterator[str]:
    """A local file holding ``path``'s bytes: a local file itself; an ``s3://`` object copied into a temporary
    folder (in ``scratch``, else the system's) under its own name — so that decoders that go by the suffix see it —
    and removed afterwards. OSError when it cannot be read."""
    if not is_s3(path):
        yield path
        return
    import shutil

    folder = tempfile.mkdtemp(prefix="trackscope-s3-", dir=scratch)
    try:
        local = os.path.join(folder, os.path.basename(path.rstrip("/")) or "audio")
        data = read_bytes(path)
        with open(local, "wb") as f:
            f.write(data)
        del data
        yield local
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class S3Stat:
    """What the store keeps of a file, for an S3 object: its size and modification time (ns)."""

    def __init__(self, size: int, mtime_ns: int) -> None:
        self.st_size, self.st_mtime_ns = size, mtime_ns


# What this job's listings said of each object (see split_inputs): a catalogue's objects are stat-ed from their
# listing, not with one request each (100,000 HEAD requests in a row would take the driver half an hour).
_LISTED: dict[str, S3Stat] = {}


def s3_stat(uri: str) -> S3Stat:
    """An object's size and modification time: from its prefix's listing (:func:`list_s3`) when it was listed, else
    asked of S3."""
    from pyarrow import fs

    listed = _LISTED.get(uri)
    if listed is not None:
        return listed
    info = _s3_filesystem().get_file_info(uri[len("s3://") :])
    if info.type != fs.FileType.File:
        raise FileNotFoundError(2, "no such S3 object", uri)
    return S3Stat(int(info.size or 0), int(info.mtime_ns or 0))


def split_inputs(
    paths: Sequence[str | os.PathLike], suffixes: Sequence[str]
) -> tuple[list[str | os.PathLike], list[str], list[tuple[str, str]]]:
    """``paths`` → (local paths as given, the S3 objects ``s3://`` inputs name, ``(input, reason)`` for S3 inputs
    that name nothing). Either engine reads S3 objects (their workers, each object as it comes to it)."""
    local = [p for p in paths if not is_s3(p)]
    remote = [s3_uri(p) for p in paths if is_s3(p)]
    _LISTED.clear()  # this job's listings only (a long-lived process lists catalogue after catalogue)
    objects: list[str] = []
    problems: list[tuple[str, str]] = []
    for uri in remote:
        try:
            found = list_s3(uri, suffixes)
        except TrackscopeError as err:
            problems.append((uri, err.reason))
            continue
        except OSError as err:
            problems.append((uri, f"cannot list it ({err})"))
            continue
        if not found:
            problems.append((uri, "no audio files in it"))
        objects.extend(o for o in found if o not in objects)
    return local, objects, problems


def list_s3(uri: str, suffixes: Sequence[str]) -> list[str]:
    """``s3://bucket/prefix/`` → its objects with one of ``suffixes`` (recursively, sorted); an object key as is."""
    from pyarrow import fs

    s3 = _s3_filesystem()
    base = uri[len("s3://") :].rstrip("/")
    info = s3.get_file_info(base)
    if info.type == fs.FileType.NotFound:
        raise TrackscopeError("no such S3 object or prefix", path=uri)
    found = [info] if info.type == fs.FileType.File else s3.get_file_info(fs.FileSelector(base, recursive=True))
    if info.type != fs.FileType.File:
        found = [i for i in found if i.type == fs.FileType.File and Path(i.path).suffix.lower() in suffixes]
    for i in found:
        _LISTED[f"s3://{i.path}"] = S3Stat(int(i.size or 0), int(i.mtime_ns or 0))
    return sorted(f"s3://{i.path}" for i in found)


class _FileActor:
    """One Ray Data actor: ``setup`` once, then ``work`` on each file of each batch it is handed."""

    def __init__(self, work: Work, setup: Callable[..., Any] | None, setup_args: tuple, ledger: Any) -> None:
        from trackscope._workers import init_single_thread

        init_single_thread()  # one thread for torch and BLAS, as the local engine's workers: the same numbers
        self.work, self.ledger = work, ledger
        self.state = setup(*setup_args) if setup is not None else None
        self.tmp = tempfile.mkdtemp(prefix="trackscope-ray-")

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        import numpy as np
        import ray

        keys, results = [], []
        finished: int | None = None
        for key, path, job in zip(batch["key"], batch["path"], batch["job"], strict=True):
            key, path = int(key), str(path)
            # blocking: the ledger must know the file is begun before work that may kill this process starts
            crashed = ray.get(self.ledger.step.remote(finished, key))
            if crashed >= MAX_CRASHES:
                res: Any = {"__failure__": f"the worker process died {crashed} times while decoding or analysing it"}
            else:
                res = self._one(path, pickle.loads(job))
            finished = key
            keys.append(key)
            results.append(pickle.dumps(res))
        ray.get(self.ledger.step.remote(finished, None))
        out = np.empty(len(results), dtype=object)
        out[:] = results
        return {"key": np.asarray(keys, dtype=np.int64), "result": out}

    def _one(self, path: str, job: Any) -> Any:
        try:
            with local_copy(path, self.tmp) as local:  # on this node's disk: read in place; S3: copied here
                return self.work(self.state, local, path, job)
        except OSError as err:  # the work itself never raises: reading the file failed
            return {"__failure__": unreadable(err)}


def map_files(
    items: Sequence[tuple[str, Any]],
    work: Work,
    on_result: Callable[[int, Any], None],
    *,
    setup: Callable[..., Any] | None = None,
    setup_args: tuple = (),
    address: str | None = "auto",
    use_gpus: bool = False,
) -> None:
    """``on_result(i, work(state, local_copy, path, job))`` for each ``(path, job)`` of ``items`` (``i`` its index),
    on Ray, as results arrive (any order), exactly once each. ``work`` and ``setup`` must be importable module-level
    functions. A file whose worker kept dying gets ``{"__failure__": reason}`` instead of a result. ``use_gpus``:
    where the cluster has GPUs, one actor per GPU (one CPU and one GPU each) instead of one per CPU."""
    if not items:
        return
    check_engine("ray")
    data_log = logging.getLogger("ray.data")
    level = data_log.level
    data_log.setLevel(logging.ERROR)  # its start/finish lines and "progress bars disabled" on the CLI's stderr
    try:
        with connected(address):
            _run(items, work, on_result, setup, setup_args, use_gpus)
    finally:
        data_log.setLevel(level)


def _run(
    items: Sequence[tuple[str, Any]],
    work: Work,
    on_result: Callable[[int, Any], None],
    setup: Callable[..., Any] | None,
    setup_args: tuple,
    use_gpus: bool,
) -> None:
    import numpy as np
    import ray
    import ray.data

    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False  # the caller's bar is fed from the results
    ctx.print_on_execution_start = False
    slots, gpu = _cluster_slots(use_gpus)
    n_actors = max(1, min(slots, len(items)))
    ledger = ray.remote(num_cpus=0)(_Ledger).remote()
    rows = [{"key": i, "path": str(p), "job": pickle.dumps(job)} for i, (p, job) in enumerate(items)]
    # a few files per task where there are many (less scheduling per file), one each for small jobs; one block per
    # task's worth of files (a block per file is one more object in the store and one more step of the executor)
    batch = max(1, min(4, len(items) // (4 * n_actors)))
    ds = ray.data.from_items(rows, override_num_blocks=-(-len(rows) // batch))
    ds = ds.map_batches(
        _FileActor,
        fn_constructor_args=(work, setup, tuple(setup_args), ledger),
        batch_size=batch,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=n_actors),
        num_cpus=1,
        num_gpus=1 if gpu else 0,
    )
    seen: set[int] = set()
    try:
        for batch in ds.iter_batches(batch_size=None, batch_format="numpy", prefetch_batches=0):
            for key, blob in zip(np.asarray(batch["key"]).tolist(), batch["result"], strict=True):
                if key in seen:  # a retried batch whose first result arrived too: once only
                    continue
                seen.add(key)
                on_result(key, pickle.loads(blob))
    finally:
        ray.kill(ledger)
