"""trackscope.sources."""
