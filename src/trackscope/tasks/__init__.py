"""trackscope.tasks."""
