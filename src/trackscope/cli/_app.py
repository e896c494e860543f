"""The Typer app and the helpers every command shares.

Only this layer talks to the terminal: library code returns values and raises
:class:`trackscope.errors.TrackscopeError` for bad input, which becomes one line on stderr and exit code 2.
Heavy libraries (numpy, torch, sklearn, librosa) are imported inside the commands, never at module level,
so ``trackscope --help`` starts fast.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any, TypeVar

import typer
from typer.core import TyperCommand, TyperGroup

from trackscope._json import dumps
from trackscope.constants import EXIT_BAD_INPUT, EXIT_BUG
from trackscope.errors import TrackscopeError

F = TypeVar("F", bound=Callable[..., Any])


def _tidy_params(params: list[Any]) -> list[Any]:
    """Help as people read it: flags (``--json``, ``--help``) without a ``<bool>`` type, and arguments by an
    upper-case name (``PATHS...``, ``MODEL``) rather than ``{paths}...``. Sets the display names once."""
    for param in params:
        kind = getattr(param, "param_type_name", None)
        if kind == "option" and getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""  # Typer shows a flag's metavar in place of its type: nothing
        elif kind == "argument" and param.metavar is None and param.name:
            param.metavar = param.name.upper() + ("..." if param.nargs != 1 else "")
    return params


def _usage_piece(param: Any) -> list[str]:
    """``PATHS...`` for a required variadic argument, ``[SONGS]...`` for an optional one, ``MODEL`` (click's style)."""
    if getattr(param, "param_type_name", None) != "argument":
        return []
    name = (param.metavar or param.name.upper()).removesuffix("...")
    name = name if param.required else f"[{name}]"
    return [name + ("..." if param.nargs != 1 else "")]


class Command(TyperCommand):
    """A command whose help shows flags without ``<bool>`` and arguments as ``PATHS...`` (see :func:`_tidy_params`)."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _tidy_params(super().get_params(ctx))

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            pieces.extend(_usage_piece(param))
        return pieces


class Group(TyperGroup):
    """A command group whose help shows flags without ``<bool>`` (``--version``, ``--help``)."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _tidy_params(super().get_params(ctx))


class Typer(typer.Typer):
    """``typer.Typer`` whose commands and groups render help as :class:`Command` and :class:`Group` do."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("cls", Group)
        super().__init__(**kwargs)

    def command(self, name: str | None = None, *, cls: Any = None, **kwargs: Any) -> Callable[[F], F]:
        return super().command(name, cls=cls or Command, **kwargs)


app = Typer(
    name="trackscope",
    help="Mood and hit potential of songs — from Spotify tables or from the audio itself, offline.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)


def _version(value: bool) -> None:
    if value:
        from trackscope import __version__

        typer.echo(f"trackscope {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print trackscope's version and exit."
    ),
) -> None:
    """Mood and hit potential of songs — from Spotify tables or from the audio itself, offline."""


train_app = Typer(help="Train a model: **mood** or **popularity**.", no_args_is_help=True)
collect_app = Typer(help="Collect track tables from the Spotify Web API.", no_args_is_help=True)
app.add_typer(train_app, name="train")
app.add_typer(collect_app, name="collect")


def console(stderr: bool = False):  # -> rich.console.Console
    """A Rich console; ``stderr=True`` for progress and messages that must not pollute ``--json`` output."""
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def emit_json(obj: Any) -> None:
    """Write exactly one JSON object to stdout (numpy values converted, NaN becomes null)."""
    sys.stdout.write(dumps(obj) + "\n")
    sys.stdout.flush()


def handle_errors(func: F) -> F:
    """Turn bad input into one line on stderr + exit 2, Ctrl-C into exit 130, anything else into exit 1."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except TrackscopeError as err:
            sys.stderr.write(f"trackscope: error: {err}\n")
            raise typer.Exit(EXIT_BAD_INPUT) from None
        except KeyboardInterrupt:
            sys.stderr.write("trackscope: interrupted\n")
            raise typer.Exit(130) from None
        except (typer.Exit, typer.Abort):
            raise
        except Exception:  # noqa: BLE001 — a bug: show it, exit 1
            traceback.print_exc()
            sys.stderr.write("trackscope: internal error (a bug) — please report it with the traceback above\n")
            raise typer.Exit(EXIT_BUG) from None

    return wrapper  # type: ignore[return-value]


def engine_option() -> Any:
    """``--engine local|ray``, the same on every command that can run on a Ray cluster."""
    return typer.Option(
        "local",
        "--engine",
        help="Where the work runs: local (processes here) or ray (a Ray cluster; needs the extra: "
        "pip install 'trackscope[ray]').",
    )


def ray_address_option() -> Any:
    """``--ray-address``, with :func:`engine_option`."""
    return typer.Option(
        "auto",
        "--ray-address",
        help="With --engine ray: the cluster (HOST:PORT, ray://HOST:PORT), or auto: a running "
        "one, else a local one for this job.",
    )


def split_list(value: str | None) -> list[str] | None:
    """``"a, b,c"`` → ``["a", "b", "c"]``; None or empty → None."""
    if value is None:
        return None
    items = [v.strip() for v in value.split(",") if v.strip()]
    return items or None


@contextmanager
def progress_bar(description: str, *, enabled: bool = True) -> Iterator[Callable[[int, int], None]]:
    """A Rich progress bar on stderr (items/s, ETA). Yields the library's progress callback ``(done, total)``.

    Library functions that take long accept ``progress: Callable[[int, int], None] | None``; the CLI passes this.
    The bar appears at the first report, not before: bad input found before the work begins is one error line,
    with no bar flashing ahead of it. A command that knows its total up front reports ``(0, total)`` to show it.
    """
    if not enabled:
        yield lambda done, total: None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    import threading
    import time

    start = time.perf_counter()
    bar = Progress(*columns, console=console(stderr=True), transient=False)
    tasks: list[Any] = []  # the bar's one task, once the work has reported progress
    lock = threading.Lock()

    def update(done: int, total: int) -> None:
        with lock:
            if not tasks:  # the first report: the inputs were checked, the work has begun — show the bar now
                if not (done or total):
                    return  # nothing to do (every input failed its checks): no empty bar
                bar.start()
                tasks.append(bar.add_task(description, total=None, rate=""))
        elapsed = max(time.perf_counter() - start, 1e-9)
        bar.update(tasks[0], completed=done, total=total, rate=f"{done / elapsed:.1f}/s")

    try:
        yield update
    finally:
        if tasks:
            bar.stop()
