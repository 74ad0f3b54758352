"""The inbox: a periodic scan is the truth, filesystem events only wake the scanner early.

inotify does not see files written by another machine on NFS/SMB, and a copy fires its first event at
the first byte, so a file is taken only when its size and mtime stayed the same over several scans and
a settle time (../docs/architecture.md, shared FACTS: "Watching a network share").
"""

from __future__ import annotations

import logging
import os
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

from mocapd.config import Config
from mocapd.options import FOLDER_OPTIONS_NAME

log = logging.getLogger(__name__)

IGNORED_NAMES = frozenset({".ds_store", "thumbs.db", "desktop.ini"})
# Partial downloads and editors' temporary files.
IGNORED_SUFFIXES = (".part", ".tmp", ".crdownload", ".partial", ".download", ".swp", "~")
SIDECAR_SUFFIX = ".json"


@dataclass(frozen=True)
class Candidate:
    """A video (or a refused entry) in the inbox that stopped changing and is ready to be taken."""

    path: Path  # absolute path in the inbox
    relative: str  # path relative to the inbox, posix style (job display name, folder options)
    size: int
    mtime_ns: int
    sidecar: Path | None  # the sidecar JSON (same stem, .json), stable when the video became ready
    refusal: str | None  # why the entry must be refused (symlink, directory, special file)
    inode: int = 0

    @property
    def identity(self) -> str:
        """A stable key for the same file across scans and restarts; a re-dropped file gets a new one."""
        return f"{self.relative}|{self.size}|{self.mtime_ns}|{self.inode}"


def is_ignored_name(name: str) -> bool:
    """Hidden, temporary and partial-download names that are never taken (rsync's .name.XXXXXX included)."""
    lowered = name.lower()
    if not name or name.startswith(".") or name.startswith("~$"):
        return True  # dot files cover ._* (macOS), .DS_Store and rsync's temporary .name.XXXXXX
    if lowered in IGNORED_NAMES:
        return True
    return lowered.endswith(IGNORED_SUFFIXES)


def refusal_for(mode: int, name: str) -> str | None:
    """Why an entry with this lstat mode cannot be taken as a video, or None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISLNK(mode):
        return f"{name} is a symbolic link; links are never followed: copy the video itself into the inbox"
    if stat.S_ISDIR(mode):
        return f"{name} is a folder named like a video, not a video file"
    return f"{name} is a special file (pipe, socket or device), not a video file"


@dataclass
class _Sighting:
    """How long an entry has looked the same."""

    signature: tuple[int, int, int, int]  # mode, size, mtime_ns, inode
    polls: int
    since: float  # clock time of the first scan that saw this signature


class InboxScanner:
    """Walks the inbox and returns each video once, after it stopped changing."""

    def __init__(self, config: Config, clock: Callable[[], float] = time.monotonic) -> None:
        self.inbox = config.inbox_path
        self.watch = config.watch
        self.extensions = {extension.lower().lstrip(".") for extension in config.limits.extensions}
        self.clock = clock
        self.healthy = True
        self.problem: str | None = None
        self._sightings: dict[str, _Sighting] = {}
        self._returned: set[str] = set()
        self._unreadable_folders: set[str] = set()

    def forget(self, identity: str) -> None:
        """Allow a candidate already returned to be returned again (e.g. after a failed ingest)."""
        self._returned.discard(identity)

    def scan(self) -> list[Candidate]:
        """Entries that became ready since the last scan, oldest mtime first, then by name."""
        problem = self._inbox_problem()
        if problem is not None:
            self._set_health(problem)
            self._sightings.clear()
            return []
        now = self.clock()
        seen: dict[str, os.stat_result] = {}
        try:
            self._walk(self.inbox, "", seen)
        except OSError as error:
            self._set_health(f"inbox {self.inbox} cannot be read: {error.strerror or error}")
            self._sightings.clear()
            return []
        self._set_health(None)
        for relative in list(self._sightings):
            if relative not in seen:
                del self._sightings[relative]
        for relative, status in seen.items():
            signature = (status.st_mode, status.st_size, status.st_mtime_ns, status.st_ino)
            sighting = self._sightings.get(relative)
            if sighting is None or sighting.signature != signature:
                self._sightings[relative] = _Sighting(signature, 1, now)
            else:
                sighting.polls += 1
        ready = []
        for relative, status in seen.items():
            if self._extension(relative) not in self.extensions:
                continue  # sidecars: tracked for their stability only
            candidate = self._candidate(relative, status, now)
            if candidate is not None and candidate.identity not in self._returned:
                ready.append(candidate)
        ready.sort(key=lambda candidate: (candidate.mtime_ns, candidate.relative))
        self._returned.update(candidate.identity for candidate in ready)
        return ready

    def _inbox_problem(self) -> str | None:
        try:
            status = os.stat(self.inbox)
        except FileNotFoundError:
            return f"inbox {self.inbox} is missing"
        except OSError as error:
            return f"inbox {self.inbox} cannot be reached: {error.strerror or error}"
        if not stat.S_ISDIR(status.st_mode):
            return f"inbox {self.inbox} is not a folder"
        if not os.access(self.inbox, os.R_OK | os.X_OK):
            return f"inbox {self.inbox} is not readable by this user"
        return None

    def _set_health(self, problem: str | None) -> None:
        """Log once per change of health, not at every scan."""
        if problem == self.problem:
            return
        if problem is None:
            log.info("inbox %s is back: watching it again", self.inbox)
        else:
            log.warning("%s", problem)
        self.problem = problem
        self.healthy = problem is None

    def _extension(self, relative: str) -> str:
        return relative.rsplit("/", 1)[-1].rpartition(".")[2].lower() if "." in relative else ""

    def _walk(self, folder: Path, prefix: str, seen: dict[str, os.stat_result]) -> None:
        """lstat every entry of interest below `folder` without following links; raises for the inbox itself."""
        try:
            entries = list(os.scandir(folder))
        except OSError as error:
            if not prefix:
                raise
            if prefix not in self._unreadable_folders:
                self._unreadable_folders.add(prefix)
                log.warning("inbox folder %s cannot be read: %s", prefix, error.strerror or error)
            return
        self._unreadable_folders.discard(prefix)
        for entry in entries:
            name = entry.name
            if is_ignored_name(name) or name == FOLDER_OPTIONS_NAME:
                continue
            relative = prefix + name
            try:
                status = entry.stat(follow_symlinks=False)
            except OSError:
                continue  # vanished between listing and stat
            extension = name.rpartition(".")[2].lower() if "." in name else ""
            is_video_name = extension in self.extensions
            if stat.S_ISDIR(status.st_mode) and not is_video_name:
                self._walk(Path(entry.path), relative + "/", seen)
            elif is_video_name or extension == SIDECAR_SUFFIX[1:]:
                seen[relative] = status

    def _stable(self, relative: str, now: float, settle: float) -> float | None:
        """Seconds the entry has looked the same, when that meets stable_polls and `settle`; else None."""
        sighting = self._sightings.get(relative)
        if sighting is None or sighting.polls < self.watch.stable_polls:
            return None
        age = now - sighting.since
        return age if age >= settle else None

    def _candidate(self, relative: str, status: os.stat_result, now: float) -> Candidate | None:
        if self._stable(relative, now, self.watch.settle_time) is None:
            return None
        path = self.inbox / relative
        refusal = refusal_for(status.st_mode, path.name)
        sidecar_relative = relative.rpartition(".")[0] + SIDECAR_SUFFIX
        sidecar: Path | None = None
        if sidecar_relative in self._sightings:
            if self._stable(sidecar_relative, now, self.watch.settle_time) is None:
                return None  # the sidecar is still being written
            sidecar = self.inbox / sidecar_relative
            sidecar_mode = self._sightings[sidecar_relative].signature[0]
            if refusal is None and not stat.S_ISREG(sidecar_mode):
                refusal = f"sidecar {sidecar.name}: {refusal_for(sidecar_mode, sidecar.name)}"
        elif refusal is None and self._stable(relative, now, self.watch.sidecar_grace) is None:
            return None  # a sidecar may still follow its video
        return Candidate(
            path=path,
            relative=relative,
            size=status.st_size,
            mtime_ns=status.st_mtime_ns,
            sidecar=sidecar,
            refusal=refusal,
            inode=status.st_ino,
        )


class _WakeHandler(FileSystemEventHandler):
    def __init__(self, wake: threading.Event) -> None:
        self.wake = wake

    def on_any_event(self, event: FileSystemEvent) -> None:
        self.wake.set()


class InboxWatcher:
    """Filesystem events that wake the scanner early; re-armed when the inbox goes away and comes back."""

    def __init__(self, inbox: Path, wake: threading.Event) -> None:
        self.inbox = Path(inbox)
        self.wake = wake
        self._observer: BaseObserver | None = None
        self._watched: tuple[int, int] | None = None  # (st_dev, st_ino) of the folder being watched
        self._started = False

    @property
    def watching(self) -> bool:
        return self._observer is not None

    def start(self) -> None:
        """Begin watching; an inbox that is missing now is watched once it appears (ensure_watching)."""
        self._started = True
        self.ensure_watching()

    def ensure_watching(self) -> None:
        """Re-arm after the inbox was removed, remounted or the watch thread stopped; cheap, call each loop."""
        if not self._started:
            return
        try:
            status = os.stat(self.inbox)
            key: tuple[int, int] | None = (
                (status.st_dev, status.st_ino) if stat.S_ISDIR(status.st_mode) else None
            )
        except OSError:
            key = None
        if self._observer is not None and key == self._watched and self._alive(self._observer):
            return
        self._disarm()
        if key is None:
            return
        observer = Observer()
        try:
            observer.schedule(_WakeHandler(self.wake), str(self.inbox), recursive=True)
            observer.start()
        except OSError as error:
            log.warning(
                "cannot watch inbox %s for events (%s); relying on the periodic scan", self.inbox, error
            )
            observer.stop()
            return
        self._observer = observer
        self._watched = key
        self.wake.set()  # the inbox (re)appeared: scan it now

    @staticmethod
    def _alive(observer: BaseObserver) -> bool:
        # The inotify emitter stops itself when the watched folder is deleted.
        return bool(
            observer.is_alive() and observer.emitters and all(e.is_alive() for e in observer.emitters)
        )

    def _disarm(self) -> None:
        observer, self._observer, self._watched = self._observer, None, None
        if observer is not None:
            observer.stop()
            if observer.is_alive():
                observer.join(timeout=5.0)

    def stop(self) -> None:
        self._started = False
        self._disarm()
