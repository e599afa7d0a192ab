"""Evaluation: the gold set, metrics, grouped cross-validation, reports and plots, and
actor × stance summaries of predictions.
"""
