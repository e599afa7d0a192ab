"""Weak supervision: the label scheme (YAML), aliases, attribution, labeling functions, aggregation,
LF analysis, and the synthetic and silver corpora they produce.
"""
