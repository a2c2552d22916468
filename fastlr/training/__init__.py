"""Training: set-up, the epoch loop and the Gram loop, the rules of an epoch (plain Python around
engine calls; it knows nothing of where the data lives)."""
