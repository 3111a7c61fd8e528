"""What was rendered: the store, the writer lock, the manifest, where the outputs are recorded to be."""
