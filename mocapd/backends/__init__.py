"""Tracking backends: which one runs (selection) and the 4D-Humans child process (fourdhumans)."""
