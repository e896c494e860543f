"""trackscope: mood and hit potential of songs, from Spotify tables or from the audio itself, offline."""

from __future__ import annotations

__version__ = "0.1.0"
