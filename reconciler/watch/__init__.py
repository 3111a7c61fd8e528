"""The daemon: reconcile-once on file events and a timer, and its parts."""
