"""Models: scikit-learn families, PyTorch networks, and safe persistence."""
