"""The report's file names in a job's outbox folder: one place for each (no heavy imports here)."""

from __future__ import annotations

PREVIEW_DIR = "preview"  # preview video, poster, thumbnails, plots
FILES_DIR = "files"  # each person's animation files, where the result is a zip of several
PREVIEW_NAME = "preview.mp4"
POSTER_NAME = "poster.jpg"


def thumbnail_name(tid: int) -> str:
    return f"person{tid}.jpg"


def plot_name(tid: int) -> str:
    return f"person{tid}-plots.svg"
