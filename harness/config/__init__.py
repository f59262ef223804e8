"""Experiment files: schema, validation with file:line errors, loading."""

from harness.config.validate import Experiment, load_experiment

__all__ = ["Experiment", "load_experiment"]
