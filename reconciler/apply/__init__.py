"""Carrying out a plan: the engine, one change, one render followed, the poll schedule, events."""
