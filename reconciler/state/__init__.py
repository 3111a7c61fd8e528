"""What was rendered: the store, the writer lock, the manifest, the output files."""
