"""Text: reading user files (articles, JSON Lines) and splitting articles into units.

The bottom layer: it knows nothing of labels or models; everything else builds on its ``Unit``.
"""
