"""The embedded backend: the pose model bundled in the mediapipe wheel, a tracker around it (CPU, no download)."""
