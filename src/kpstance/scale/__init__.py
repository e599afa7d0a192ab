"""Corpus-scale prediction: the predictions table, resumable shards, and the local and Ray engines."""
