"""Taking a video out of the inbox: copy into the job's folder, verify, and only then remove the original.

The inbox then shows only what is waiting, and the same name may be dropped again later for a new job.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import shutil
import stat
import uuid
from dataclasses import asdict
from pathlib import Path
from typing import Any

from mocapd.errors import DiskFull, JobError, TransientError
from mocapd.names import input_name, shown
from mocapd.inbox.watcher import Candidate

log = logging.getLogger(__name__)

CHUNK_BYTES = 1 << 20


def candidate_record(candidate: Candidate) -> dict[str, Any]:
    """The candidate as JSON, kept with the job to redo an interrupted ingest."""
    data = asdict(candidate)
    data["path"] = str(candidate.path)  # undecodable bytes stay lone surrogates: json escapes them
    data["sidecar"] = str(candidate.sidecar) if candidate.sidecar is not None else None
    data["input_name"] = input_name(candidate.path.name)
    return data


def candidate_from_record(data: dict[str, Any]) -> Candidate:
    return Candidate(
        path=Path(data["path"]),
        relative=data["relative"],
        size=int(data["size"]),
        mtime_ns=int(data["mtime_ns"]),
        sidecar=Path(data["sidecar"]) if data.get("sidecar") else None,
        refusal=data.get("refusal"),
        inode=int(data.get("inode", 0)),
    )


def ingest(candidate: Candidate, input_dir: Path) -> Path:
    """Copy (or, for a refused entry, move) the candidate and its sidecar into `input_dir`; the new path.

    The originals leave the inbox only after the copy's size and sha256 match the source. A source that
    changes during the copy is a TransientError and the inbox is left untouched.
    """
    input_dir.mkdir(parents=True, exist_ok=True)
    target = ingested_video(candidate, input_dir)
    sidecar_target = ingested_sidecar(candidate, input_dir)
    if candidate.refusal is not None:
        move_without_following(candidate.path, target)
        if candidate.sidecar is not None and sidecar_target is not None:
            move_without_following(candidate.sidecar, sidecar_target)
        return target
    copy_verified(candidate.path, target, expected=(candidate.size, candidate.mtime_ns))
    if candidate.sidecar is not None and sidecar_target is not None:
        copy_verified(candidate.sidecar, sidecar_target, expected=None)
    fsync_folder(input_dir)
    return target


def remove_originals(candidate: Candidate) -> None:
    """Remove the video and its sidecar from the inbox, once their copies are verified (and decoded)."""
    for original in (candidate.path, candidate.sidecar):
        if original is not None:
            remove_original(original)
    fsync_folder(candidate.path.parent)


def ingested_video(candidate: Candidate, input_dir: Path) -> Path:
    """Where ingest puts the candidate's video: its own name when clean and short, else a safe one."""
    return input_dir / input_name(candidate.path.name)


def ingested_sidecar(candidate: Candidate, input_dir: Path) -> Path | None:
    """Where ingest put the candidate's sidecar, if it had one."""
    return input_dir / input_name(candidate.sidecar.name) if candidate.sidecar is not None else None


def still_in_inbox(candidate: Candidate) -> bool:
    """True while the very file the candidate was taken from is in the inbox, unchanged."""
    try:
        status = os.lstat(candidate.path)
    except OSError:
        return False
    return (status.st_size, status.st_mtime_ns) == (candidate.size, candidate.mtime_ns)


def copy_verified(source: Path, target: Path, expected: tuple[int, int] | None) -> None:
    """Copy `source` to `target` through a staging name, fsynced; raise unless the copy is identical.

    `expected` is the (size, mtime_ns) the scanner saw; None skips that check (sidecars are re-read whole).
    """
    # A short staging name: a dropped name may be up to NAME_MAX (255 bytes) long already.
    staging = target.with_name(f".ingest-{uuid.uuid4().hex[:12]}")
    try:
        try:
            # O_NOFOLLOW: a symlink swapped in after the scan is refused, never followed.
            descriptor = os.open(source, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError as error:
            if error.errno == errno.ELOOP:
                raise JobError(
                    f"{shown(source.name)} became a symbolic link; links are never followed"
                ) from error
            raise TransientError(
                f"cannot read {shown(source.name)} in the inbox: {error.strerror}"
            ) from error
        with open(descriptor, "rb") as reader:
            before = os.fstat(reader.fileno())
            if not stat.S_ISREG(before.st_mode):
                raise JobError(f"{shown(source.name)} is not a regular file")
            if expected is not None and (before.st_size, before.st_mtime_ns) != expected:
                raise TransientError(
                    f"{shown(source.name)} changed after it was seen; it will be taken once it settles"
                )
            source_hash = hashlib.sha256()
            copied = 0
            with open(staging, "wb") as writer:
                while chunk := reader.read(CHUNK_BYTES):
                    source_hash.update(chunk)
                    writer.write(chunk)
                    copied += len(chunk)
                writer.flush()
                os.fsync(writer.fileno())
            after = os.stat(source, follow_symlinks=False)
        if (after.st_size, after.st_mtime_ns, after.st_ino) != (
            before.st_size,
            before.st_mtime_ns,
            before.st_ino,
        ):
            raise TransientError(
                f"{shown(source.name)} changed while it was being copied; it will be taken once it settles"
            )
        if copied != before.st_size:
            raise TransientError(f"{shown(source.name)}: copied {copied} bytes of {before.st_size}")
        if file_sha256(staging) != source_hash.hexdigest():
            raise TransientError(f"the copy of {shown(source.name)} does not match the original (sha256)")
        os.replace(staging, target)
    except OSError as error:
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            raise DiskFull(f"the state disk is full: {shown(source.name)} cannot be copied in") from error
        raise TransientError(
            f"cannot copy {shown(source.name)} into the job folder: {error.strerror or error}"
        ) from error
    finally:
        staging.unlink(missing_ok=True)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as reader:
        while chunk := reader.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def remove_original(path: Path) -> None:
    """Remove a verified original from the inbox; one already gone is fine."""
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError as error:
        # The copy is safe; the daemon's dedupe (identity) keeps a leftover from making a second job.
        log.warning("copied %s but cannot remove it from the inbox: %s", path, error.strerror or error)


def move_without_following(source: Path, target: Path) -> None:
    """Move an entry (symlink, folder, special file) out of the inbox without following or opening it."""
    try:
        os.rename(source, target)
        return
    except FileNotFoundError as error:
        raise JobError(f"{shown(source.name)} disappeared from the inbox") from error
    except OSError as error:
        if error.errno != errno.EXDEV:
            raise TransientError(
                f"cannot move {shown(source.name)} out of the inbox: {error.strerror}"
            ) from error
    # Another filesystem (the inbox is a share): recreate the entry, then remove the original.
    try:
        mode = os.lstat(source).st_mode
        if stat.S_ISLNK(mode):
            os.symlink(os.readlink(source), target)
            os.unlink(source)
        elif stat.S_ISDIR(mode):
            shutil.copytree(source, target, symlinks=True)
            shutil.rmtree(source)
        elif stat.S_ISFIFO(mode):
            os.mkfifo(target)
            os.unlink(source)
        else:
            # Sockets and devices cannot be recreated by an unprivileged daemon: keep a note of what it was.
            target.write_text(f"{source} was a special file (mode {stat.filemode(mode)}); it was removed\n")
            os.unlink(source)
    except (OSError, shutil.Error) as error:
        raise TransientError(f"cannot move {shown(source.name)} out of the inbox: {error}") from error


def fsync_folder(folder: Path) -> None:
    """Make renames and removals in `folder` durable; some network filesystems refuse: best effort."""
    try:
        descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
