"""trackscope: mood and hit potential of songs, from Spotify tables or from the audio itself, offline."""

from __future__ import annotations

__version__ = "0.1.0"


def __getattr__(name: str):
    # Lazy entry points, so that `import trackscope` stays light (no numpy/torch until they are used).
    if name == "embed":
        from trackscope.audio.musicnn import embed

        return embed
    raise AttributeError(f"module 'trackscope' has no attribute {name!r}")
