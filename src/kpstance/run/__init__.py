"""Runs: the ``train(cfg)`` pipeline that chains the stages, and resuming an interrupted run.

``train.py`` and the tests call ``kpstance.run.pipeline.train``.
"""
