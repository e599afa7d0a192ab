"""Annotation loop: pick the units worth a person's time, hand them to Label Studio, take the labels back as gold.

``select`` ranks candidate units (uncertainty, disagreement with the rules, or seeded random) and keeps
one article from filling a batch; ``labelstudio`` writes Label Studio's task list and labeling config
from a label YAML and reads its JSON export back into the project's gold format; ``commands`` ties them
to a saved model, the rules and the files, as ``kpstance annotate export`` and ``import`` run them.
"""
