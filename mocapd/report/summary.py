"""The figures, verdicts and report files of a job, as status.json and both pages show them.

Figures are read defensively from every step's data (other versions add or drop keys); only those
present are shown and judged.
"""

from __future__ import annotations

from typing import Any

from mocapd import states
from mocapd.report import verdict

# Figures the report lifts from the export step's foot locking data, per track.
FOOT_KEYS = ("sliding_before_cm", "sliding_after_cm", "below_floor_after", "floor_offset_m")
# Timing keys a track may carry (from track_extraction's data, or the report's own measure).
SPAN_KEYS = ("first_frame", "last_frame", "first_time", "last_time")


def report_data(step_data: dict[str, Any]) -> dict[str, Any]:
    """The packaging step's report block ({} before it ran or when its preview failed)."""
    packaging = step_data.get(states.PACKAGING)
    report = packaging.get("report") if isinstance(packaging, dict) else None
    return report if isinstance(report, dict) else {}


def _extraction_entry(step_data: dict[str, Any], tid: int) -> dict[str, Any]:
    extraction = step_data.get(states.TRACK_EXTRACTION)
    tracks = extraction.get("tracks") if isinstance(extraction, dict) else None
    for entry in tracks if isinstance(tracks, list) else []:
        if isinstance(entry, dict) and entry.get("tid") == tid:
            return entry
    return {}


def person_figures(track: dict[str, Any], step_data: dict[str, Any]) -> dict[str, Any]:
    """Every quality figure known about one track, flat: extraction, smoothing, export, report."""
    tid = track["tid"]
    values: dict[str, Any] = dict(track.get("quality") or {})
    jitter = track.get("jitter")
    if isinstance(jitter, dict):
        values["jitter_before"] = jitter.get("before")
        values["jitter_after"] = jitter.get("after")
    export = step_data.get(states.FBX_EXPORT)
    export_tracks = export.get("tracks") if isinstance(export, dict) else None
    export_entry = export_tracks.get(str(tid)) if isinstance(export_tracks, dict) else None
    locking = export_entry.get("foot_locking") if isinstance(export_entry, dict) else None
    if isinstance(locking, dict):
        values |= {key: locking[key] for key in FOOT_KEYS if key in locking}
        if "contact_share" in locking:  # the solver's own, where it gives one, comes first
            values.setdefault("contact_share", locking["contact_share"])
    person = report_data(step_data).get("people", {}).get(str(tid), {})
    if "airborne_share" in person:
        values["airborne_share"] = person["airborne_share"]
    return values


def enrich(document: dict[str, Any], step_data: dict[str, Any]) -> None:
    """Add each track's span, figures and verdict, the take's verdict and the report's files."""
    report = report_data(step_data)
    people = report.get("people", {}) if isinstance(report.get("people"), dict) else {}
    verdicts: dict[str, verdict.Verdict] = {}
    for track in document["tracks"]:
        tid = track["tid"]
        extraction = _extraction_entry(step_data, tid)
        person = people.get(str(tid), {})
        quality = track.get("quality") or {}
        for key in SPAN_KEYS:
            if key not in track:
                sources = (extraction.get(key), quality.get(key), quality.get(f"{key}_s"), person.get(key))
                value = next((value for value in sources if value is not None), None)
                if value is not None:
                    track[key] = value
        track["figures"] = person_figures(track, step_data)
        if track.get("selected"):
            label = f"person {tid}"
            frames = track.get("frames")
            result = verdict.person(label, track["figures"], frames if isinstance(frames, int) else None)
            track["verdict"] = result.to_dict()
            verdicts[label] = result
        for key in ("thumbnail", "plots", "files", "colour"):
            if key in person:
                track[key] = person[key]
    finished = document["status"] == states.COMPLETED
    document["verdict"] = verdict.take(verdicts).to_dict() if finished and document["tracks"] else None
    document["preview"] = (
        {
            key: report[key]
            for key in ("video", "poster", "duration", "size", "seconds", "frames_from")
            if key in report
        }
        if finished
        else None
    )
