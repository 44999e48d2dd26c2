"""Training: losses, the engine and its optimiser recipes."""
