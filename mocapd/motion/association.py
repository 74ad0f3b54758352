"""Identity over a whole clip: the tracker's fragments of one person joined into that person.

A frame-to-frame tracker ends a track when its person is hidden or missed for longer than it waits,
and starts a new one when they come back. Here, after the clip is tracked, fragments that cannot be
two people (one ends before the other starts) are joined when the later one starts where the earlier
one could have got to in the gap (image position, box size) and looks the same (clothes' colours,
mocapd.motion.appearance, where the backend records them). Joins are made cheapest first; each person
keeps the id of their first fragment. A fragment whose colours change for good part-way is a swap
between two people: it is split there first, and the halves are joined like any other fragments.
Before that, single detections that do not fit their own fragment (a box of another size, or a jump
no body makes) are taken out as not measured: a false detection the tracker took for the person.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from mocapd.motion import appearance
from mocapd.motion.tracklets import Frame, Tracklets

# Longest gap (seconds) between two fragments of one person: an occlusion, a walk behind a tree.
MAX_JOIN_SECONDS = 4.0
# Where a hidden person can be after a gap, in their own box heights: a margin for the box's noise
# and their speed (a brisk walk covers about one body height per second).
JOIN_MARGIN_HEIGHTS = 0.6
JOIN_SPEED_HEIGHTS_PER_SECOND = 1.2
# Box heights of two fragments of one person differ less than this factor over a gap (walking closer).
MAX_HEIGHT_RATIO = 1.6
# Appearance distances (mocapd.motion.appearance.distance) above this are two people.
MAX_APPEARANCE_DISTANCE = 0.45
# Frames at a fragment's end (and the next one's start) whose appearance is compared.
APPEARANCE_FRAMES = 8
# A swap is split only where both sides have this many frames and differ by this much.
SPLIT_MIN_FRAMES = 6
SPLIT_APPEARANCE_DISTANCE = 0.5
# A detection is a stray when its box height differs from its neighbours' by more than this factor,
# or its centre lies farther from theirs than STRAY_MARGIN_HEIGHTS + STRAY_SPEED_HEIGHTS_PER_SECOND x
# the time to them (in box heights); neighbours: up to STRAY_NEIGHBOURS detections on each side.
STRAY_HEIGHT_RATIO = 1.35
STRAY_MARGIN_HEIGHTS = 0.08
STRAY_SPEED_HEIGHTS_PER_SECOND = 2.0
STRAY_NEIGHBOURS = 2


@dataclass
class Fragment:
    """One tracker track: its real detections in time order."""

    tid: int
    frames: np.ndarray  # (M,) video frame indices
    times: np.ndarray  # (M,) seconds
    centres: np.ndarray  # (M, 2) box centres, pixels
    heights: np.ndarray  # (M,) box heights, pixels
    looks: np.ndarray | None  # (M, appearance.SIZE) or None where the backend records none

    def end_look(self) -> np.ndarray | None:
        return None if self.looks is None else appearance.typical(self.looks[-APPEARANCE_FRAMES:])

    def start_look(self) -> np.ndarray | None:
        return None if self.looks is None else appearance.typical(self.looks[:APPEARANCE_FRAMES])


@dataclass
class Join:
    """Two fragments found to be one person, and why."""

    earlier: int
    later: int
    gap_seconds: float
    moved_heights: float  # how far the later one starts from where the earlier one ended
    appearance_distance: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            key: round(value, 3) if isinstance(value, float) else value for key, value in asdict(self).items()
        }


@dataclass
class Person:
    """One person over the clip: the tracker's fragments, in time order."""

    pid: int
    fragments: list[int]
    joins: list[Join] = field(default_factory=list)


@dataclass
class Association:
    """The clip's people, the swaps split, and the map from a (possibly split) detection to its person."""

    people: list[Person]
    # {tid, at_frame, new_tid, appearance_distance}
    splits: list[dict[str, Any]] = field(default_factory=list)
    strays: list[tuple[int, int]] = field(default_factory=list)  # (frame, tid) taken out as not measured

    def person_of(self) -> dict[int, int]:
        return {tid: person.pid for person in self.people for tid in person.fragments}


def _frame_time(frame: Frame, fps: float) -> float:
    stamp = frame.data.get("timestamp")
    return float(stamp) if stamp is not None else frame.index / fps


def fragments(tracklets: Tracklets, fps: float) -> list[Fragment]:
    """Every track's real detections (ghosts skipped), as fragments ordered by their start."""
    rows: dict[int, list[tuple[int, float, np.ndarray, np.ndarray | None]]] = {}
    for frame in tracklets.frames:
        boxes = frame.data.get("bbox", [])
        looks = frame.data.get("appearance")
        for position, tid in enumerate(frame.tids):
            if not frame.is_measured(position) or position >= len(boxes):
                continue
            look = (
                None if looks is None or position >= len(looks) else np.asarray(looks[position], np.float32)
            )
            box = np.asarray(boxes[position], dtype=np.float64).reshape(4)
            rows.setdefault(tid, []).append((frame.index, _frame_time(frame, fps), box, look))
    result = []
    for tid, entries in rows.items():
        boxes = np.stack([entry[2] for entry in entries])
        found_looks = [entry[3] for entry in entries]
        looks = None
        if all(look is not None and look.shape == (appearance.SIZE,) for look in found_looks):
            looks = np.stack([look for look in found_looks if look is not None])
        result.append(
            Fragment(
                tid=tid,
                frames=np.array([entry[0] for entry in entries], dtype=np.int64),
                times=np.array([entry[1] for entry in entries]),
                centres=boxes[:, :2] + boxes[:, 2:] / 2.0,
                heights=np.maximum(boxes[:, 3], 1.0),
                looks=looks,
            )
        )
    return sorted(result, key=lambda fragment: (fragment.frames[0], fragment.tid))


def stray_rows(piece: Fragment) -> np.ndarray:
    """(M,) bool: the fragment's detections that fit neither their neighbours before nor those after
    (one side alone fitting keeps a detection: the first one after a swap fits what follows)."""
    count = piece.frames.shape[0]
    strays = np.zeros(count, dtype=bool)
    if count < 3:
        return strays
    for _ in range(3):  # a stray next to a stray fits it: look again without the first ones
        kept = np.flatnonzero(~strays)
        found = False
        for place, row in enumerate(kept):
            sides = [
                kept[max(0, place - STRAY_NEIGHBOURS) : place],
                kept[place + 1 : place + 1 + STRAY_NEIGHBOURS],
            ]
            if all(not fits(piece, row, side) for side in sides if side.size):
                strays[row] = found = True
        if not found or np.count_nonzero(~strays) < 3:
            break
    return strays


def fits(piece: Fragment, row: int, others: np.ndarray) -> bool:
    """Whether detection `row` continues detections `others` of the same fragment (size and place)."""
    height = float(np.median(piece.heights[others]))
    ratio = max(piece.heights[row], height) / max(min(piece.heights[row], height), 1.0)
    elapsed = float(np.mean(np.abs(piece.times[others] - piece.times[row])))
    distance = float(np.linalg.norm(piece.centres[row] - np.median(piece.centres[others], axis=0))) / height
    return (
        ratio <= STRAY_HEIGHT_RATIO
        and distance <= STRAY_MARGIN_HEIGHTS + STRAY_SPEED_HEIGHTS_PER_SECOND * elapsed
    )


def drop_strays(pieces: list[Fragment]) -> tuple[list[Fragment], list[tuple[int, int]]]:
    """The fragments without their stray detections, and those (frame, tid)."""
    kept, strays = [], []
    for piece in pieces:
        stray = stray_rows(piece)
        strays += [(int(frame), piece.tid) for frame in piece.frames[stray]]
        if (~stray).any():
            kept.append(
                Fragment(
                    piece.tid,
                    piece.frames[~stray],
                    piece.times[~stray],
                    piece.centres[~stray],
                    piece.heights[~stray],
                    None if piece.looks is None else piece.looks[~stray],
                )
            )
    return sorted(kept, key=lambda fragment: (fragment.frames[0], fragment.tid)), strays


def split_swaps(pieces: list[Fragment], next_tid: int) -> tuple[list[Fragment], list[dict[str, Any]]]:
    """Fragments whose appearance changes for good part-way cut there (a swap between two people)."""
    result: list[Fragment] = []
    splits: list[dict[str, Any]] = []
    queue = list(pieces)
    while queue:
        piece = queue.pop(0)
        cut = _swap_point(piece)
        if cut is None:
            result.append(piece)
            continue
        index, distance = cut
        first, second = _slice(piece, 0, index, piece.tid), _slice(piece, index, None, next_tid)
        splits.append(
            {
                "tid": piece.tid,
                "at_frame": int(piece.frames[index]),
                "new_tid": next_tid,
                "appearance_distance": round(distance, 3),
            }
        )
        next_tid += 1
        queue[:0] = [first, second]
    return sorted(result, key=lambda fragment: (fragment.frames[0], fragment.tid)), splits


def _slice(piece: Fragment, start: int, stop: int | None, tid: int) -> Fragment:
    part = slice(start, stop)
    return Fragment(
        tid,
        piece.frames[part],
        piece.times[part],
        piece.centres[part],
        piece.heights[part],
        None if piece.looks is None else piece.looks[part],
    )


def _swap_point(piece: Fragment) -> tuple[int, float] | None:
    """Where the colours before and after differ most, if by more than SPLIT_APPEARANCE_DISTANCE.

    Every cut at once from running sums: linear in the fragment's length (one mean per cut was
    quadratic: 0.14 s for 600 frames, minutes for a long clip)."""
    if piece.looks is None or piece.frames.shape[0] < 2 * SPLIT_MIN_FRAMES:
        return None
    cuts = np.arange(SPLIT_MIN_FRAMES, piece.frames.shape[0] - SPLIT_MIN_FRAMES + 1)
    # Means, not medians: a mean mixes both people's colours unless the cut is at the swap itself.
    before, after = appearance.running_means(piece.looks, cuts)
    distances = appearance.distances(before, after)
    if not np.isfinite(distances).any():
        return None
    best = int(np.nanargmax(distances))  # the first of equal ones, as a strict > over the cuts in order
    if distances[best] < SPLIT_APPEARANCE_DISTANCE:
        return None
    return int(cuts[best]), float(distances[best])


def join_cost(earlier: Fragment, later: Fragment) -> Join | None:
    """Whether `later` can be `earlier`'s person seen again, and how well it fits; None where it cannot."""
    gap = float(later.times[0] - earlier.times[-1])
    if later.frames[0] <= earlier.frames[-1] or gap > MAX_JOIN_SECONDS:
        return None
    height = float(np.median(earlier.heights[-APPEARANCE_FRAMES:]))
    later_height = float(np.median(later.heights[:APPEARANCE_FRAMES]))
    if max(height, later_height) / max(min(height, later_height), 1.0) > MAX_HEIGHT_RATIO:
        return None
    moved = float(np.linalg.norm(later.centres[0] - earlier.centres[-1])) / height
    if moved > JOIN_MARGIN_HEIGHTS + JOIN_SPEED_HEIGHTS_PER_SECOND * gap:
        return None
    end_look, start_look = earlier.end_look(), later.start_look()
    distance = None if end_look is None or start_look is None else appearance.distance(end_look, start_look)
    if distance is not None and distance > MAX_APPEARANCE_DISTANCE:
        return None
    return Join(earlier.tid, later.tid, gap, moved, distance)


def _score(join: Join) -> float:
    """Lower is likelier: the share of the allowed move and of the allowed colour difference used."""
    allowed = JOIN_MARGIN_HEIGHTS + JOIN_SPEED_HEIGHTS_PER_SECOND * join.gap_seconds
    colour = 0.5 if join.appearance_distance is None else join.appearance_distance / MAX_APPEARANCE_DISTANCE
    return join.moved_heights / allowed + colour


def associate(tracklets: Tracklets, fps: float) -> Association:
    """The clip's people from its tracks: swaps split, then fragments joined cheapest first."""
    known = tracklets.track_ids()
    pieces, strays = drop_strays(fragments(tracklets, fps))
    pieces, splits = split_swaps(pieces, (max(known) + 1) if known else 1)
    candidates = [
        join
        for earlier in pieces
        for later in pieces
        if earlier.tid != later.tid and (join := join_cost(earlier, later)) is not None
    ]
    successor: dict[int, Join] = {}
    predecessor: dict[int, int] = {}
    for join in sorted(candidates, key=_score):
        if join.earlier in successor or join.later in predecessor:
            continue
        successor[join.earlier] = join
        predecessor[join.later] = join.earlier
    people = []
    for piece in pieces:
        if piece.tid in predecessor:
            continue
        person = Person(piece.tid, [piece.tid])
        tid = piece.tid
        while tid in successor:
            join = successor[tid]
            person.joins.append(join)
            person.fragments.append(join.later)
            tid = join.later
        people.append(person)
    return Association(people, splits, strays)


def relabel(tracklets: Tracklets, association: Association) -> Tracklets:
    """The tracklets with every detection under its person's id (the file on disk is left as it is)."""
    person_of = association.person_of()
    cuts: dict[int, list[tuple[int, int]]] = {}
    for split in association.splits:
        cuts.setdefault(split["tid"], []).append((split["at_frame"], split["new_tid"]))
    strays = set(association.strays)
    frames = []
    for frame in tracklets.frames:
        tids = []
        tracked_time = list(frame.data.get("tracked_time", [0] * len(frame.tids)))
        for position, tid in enumerate(frame.tids):
            if (frame.index, tid) in strays and position < len(tracked_time):
                tracked_time[position] = 1  # kept in its place, read as no measurement (a ghost)
            # A split track's later half carries the new tid (splits can chain: follow them).
            while passed := [cut for cut in cuts.get(tid, []) if cut[0] <= frame.index]:
                tid = max(passed)[1]
            tids.append(person_of.get(tid, tid))
        frames.append(Frame(frame.index, frame.key, frame.data | {"tid": tids, "tracked_time": tracked_time}))
    return Tracklets(frames, tracklets.embedded)
