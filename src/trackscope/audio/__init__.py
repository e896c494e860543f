"""trackscope.audio."""
