"""Tracking backends side by side: embedded/ (the bundled pose model) and fourdhumans (4D-Humans child).

Both write one tracklets file in PHALP's per-frame layout (docs/architecture.md); selection says
which one runs and why.
"""
