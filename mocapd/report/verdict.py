"""Verdicts: good / check / poor per person and per take, from the quality figures, with reasons in words.

The thresholds are documented in docs/report.md; change them here and there together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mocapd.report.figures import number

GOOD, CHECK, POOR = "good", "check", "poor"
LEVELS = (GOOD, CHECK, POOR)

# (key, check above/below, poor above/below, direction): "min" means the figure must stay above.
# detected_share: frames the tracker really saw; the rest is interpolated between detections.
DETECTED_CHECK, DETECTED_POOR = 0.9, 0.7
# frames at the picture's edge (cut off) as a share of the track's frames.
EDGE_CHECK, EDGE_POOR = 0.1, 0.3
# limb length variation (coefficient of variation of the 3D landmarks' limb lengths).
LIMB_CHECK, LIMB_POOR = 0.08, 0.15
# jitter of the exported (smoothed) motion, mm/frame^2 (the sample clip, smoothed: 16).
JITTER_CHECK, JITTER_POOR = 25.0, 50.0
# both feet off the floor, share of frames (a walk or a dance has some; most of a clip is floating).
AIRBORNE_CHECK, AIRBORNE_POOR = 0.3, 0.6
# foot sliding left in the file during contacts, cm per frame.
SLIDING_CHECK, SLIDING_POOR = 1.0, 3.0
# reprojection error of the solved skeleton, px (where the solver reports one).
REPROJECTION_CHECK, REPROJECTION_POOR = 15.0, 30.0


@dataclass
class Verdict:
    level: str = GOOD
    reasons: list[str] = field(default_factory=list)

    def add(self, level: str, reason: str) -> None:
        self.reasons.append(reason)
        if LEVELS.index(level) > LEVELS.index(self.level):
            self.level = level

    def to_dict(self) -> dict[str, Any]:
        return {"level": self.level, "reasons": list(self.reasons)}


def _grade(value: float, check: float, poor: float, higher_is_worse: bool) -> str:
    if higher_is_worse:
        return POOR if value > poor else CHECK if value > check else GOOD
    return POOR if value < poor else CHECK if value < check else GOOD


def person(label: str, values: dict[str, Any], frames: int | None = None) -> Verdict:
    """The verdict for one person from their figures (keys may be missing: only present ones count)."""
    verdict = Verdict()
    detected = number(values.get("detected_share"))
    if detected is not None:
        level = _grade(detected, DETECTED_CHECK, DETECTED_POOR, higher_is_worse=False)
        if level != GOOD:
            verdict.add(level, f"{label} seen in {detected:.0%} of their frames; the rest is filled in")
    edge = number(values.get("frames_out_of_image"))
    if edge is not None and frames:
        share = edge / frames
        level = _grade(share, EDGE_CHECK, EDGE_POOR, higher_is_worse=True)
        if level != GOOD:
            verdict.add(level, f"{label} is cut off by the picture's edge in {share:.0%} of frames")
    limbs = number(values.get("bone_length_cv"))
    if limbs is not None:
        level = _grade(limbs, LIMB_CHECK, LIMB_POOR, higher_is_worse=True)
        if level != GOOD:
            verdict.add(
                level, f"{label}'s limb lengths vary by {limbs:.0%} over the clip: the landmarks are noisy"
            )
    jitter = number(values.get("jitter_after", values.get("jitter_before")))
    if jitter is not None:
        level = _grade(jitter, JITTER_CHECK, JITTER_POOR, higher_is_worse=True)
        if level != GOOD:
            verdict.add(level, f"{label}'s motion shakes: jitter {jitter:.3g} mm/frame² after smoothing")
    airborne = number(values.get("airborne_share"))
    if airborne is not None:
        level = _grade(airborne, AIRBORNE_CHECK, AIRBORNE_POOR, higher_is_worse=True)
        if level != GOOD:
            verdict.add(level, f"{label}'s feet are off the floor in {airborne:.0%} of frames")
    sliding = number(
        values.get("sliding_after_cm", values.get("planted_sliding_cm", values.get("sliding_cm")))
    )
    if sliding is not None:
        level = _grade(sliding, SLIDING_CHECK, SLIDING_POOR, higher_is_worse=True)
        if level != GOOD:
            verdict.add(level, f"{label}'s planted feet slide {sliding:.2g} cm per frame")
    reprojection = number(values.get("reprojection_px", values.get("reprojection_error_px")))
    if reprojection is not None:
        level = _grade(reprojection, REPROJECTION_CHECK, REPROJECTION_POOR, higher_is_worse=True)
        if level != GOOD:
            verdict.add(level, f"{label}'s skeleton lies {reprojection:.3g} px from the picture on average")
    if "error" in values:
        verdict.add(POOR, f"{label} could not be extracted: {values['error']}")
    return verdict


def take(people: dict[str, Verdict]) -> Verdict:
    """The take's verdict: its worst exported person's, with every person's reasons."""
    verdict = Verdict()
    if not people:
        verdict.add(POOR, "nobody was exported")
    for item in people.values():
        for reason in item.reasons:
            verdict.add(item.level, reason)
    return verdict
