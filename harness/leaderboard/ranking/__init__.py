"""Ranking layer: cells aggregated into rows, statistics, tuning and derived-row summaries.

pandas ranks here; nothing in this layer draws or renders.
"""
