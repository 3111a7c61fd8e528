"""The pure planner, its human and JSON views, and saved plans."""
