"""Duplicates (R5): exact scan, fuzzy suggestions, people's review, and bulk merges as batches."""
