"""CLI: train mood (being built — issue 2)."""

from __future__ import annotations
