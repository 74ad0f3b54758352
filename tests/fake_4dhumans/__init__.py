"""Test-only stand-ins for 4D-Humans: PHALP-layout tracklets built in code and a fake track.py."""
