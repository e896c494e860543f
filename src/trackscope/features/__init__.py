"""trackscope.features."""
