"""trackscope: mood and hit potential of songs, from Spotify tables or from the audio itself, offline.

From Python (see the README's "From Python")::

    import trackscope

    model = trackscope.load_model("builtin:mood")          # a Model: classes_, predict, evaluate, explain, card
    moods = model.predict(["a.mp3", "b.mp3"])              # a DataFrame: mood and p_<class> per song
    analysis = trackscope.analyze(["my-album/"])           # an Analysis: songs, windows, failures, write, to_dict
    features = trackscope.MusicnnEmbedder().transform(["a.mp3"])   # scikit-learn transformers from audio

Everything is imported when first used (PEP 562), so ``import trackscope`` stays light: no numpy, torch, pandas or
scikit-learn until a function needs them. :mod:`trackscope.api` holds the functions behind the CLI.
"""

__version__ = "0.1.0"

__all__ = [
    "Analysis",
    "Descriptors",
    "Model",
    "MusicnnEmbedder",
    "TrackscopeError",
    "__version__",
    "analyze",
    "api",
    "describe",
    "embed",
    "load_model",
    "train_mood",
    "train_popularity",
]

# name → (module, attribute in it; None: the module itself), imported on first use
_LAZY: dict[str, tuple[str, str | None]] = {
    "TrackscopeError": ("trackscope.errors", "TrackscopeError"),
    "Analysis": ("trackscope.api", "Analysis"),
    "Model": ("trackscope.api", "Model"),
    "analyze": ("trackscope.api", "analyze_songs"),
    "describe": ("trackscope.api", "describe"),
    "load_model": ("trackscope.api", "load_model"),
    "train_mood": ("trackscope.api", "train_mood"),
    "train_popularity": ("trackscope.api", "train_popularity"),
    "embed": ("trackscope.audio.musicnn", "embed"),
    "Descriptors": ("trackscope.features.transform", "Descriptors"),
    "MusicnnEmbedder": ("trackscope.features.transform", "MusicnnEmbedder"),
    "api": ("trackscope.api", None),
}


def __getattr__(name: str) -> object:
    try:
        module, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'trackscope' has no attribute {name!r}") from None
    import importlib

    found = importlib.import_module(module)
    value = found if attr is None else getattr(found, attr)
    globals()[name] = value  # looked up once
    return value


def __dir__() -> list[str]:
    return sorted({n for n in globals() if not n.startswith("_") or n.endswith("__")} | set(__all__))
