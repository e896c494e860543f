"""trackscope.report."""
