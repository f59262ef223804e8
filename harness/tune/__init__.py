"""Optuna tuning inside the matrix. Optuna is imported only when a tuned cell runs."""
