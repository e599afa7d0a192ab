"""Tracking: recording runs in MLflow, comparing runs side by side, and the Hydra multirun callback."""
