"""Data bundled with the package: a small MNIST subset (see README.md here)."""
