"""CLI: popularity (work in progress — see the open issues)."""

from __future__ import annotations
