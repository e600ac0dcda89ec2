"""Training library: configuration, workdir safety, distribution, the training loop."""
