"""Smoothing of extracted motion: zero-phase, confidence-aware filters over rotations and the root path."""
