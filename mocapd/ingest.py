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
from pathlib import Path

from mocapd.errors import JobError, TransientError
from mocapd.watcher import Candidate

log = logging.getLogger(__name__)

CHUNK_BYTES = 1 << 20


def ingest(candidate: Candidate, input_dir: Path) -> Path:
    """Copy (or, for a refused entry, move) the candidate and its sidecar into `input_dir`; the new path.

    The originals leave the inbox only after the copy's size and sha256 match the source. A source that
    changes during the copy is a TransientError and the inbox is left untouched.
    """
    input_dir.mkdir(parents=True, exist_ok=True)
    target = input_dir / candidate.path.name
    if candidate.refusal is not None:
        move_without_following(candidate.path, target)
        if candidate.sidecar is not None:
            move_without_following(candidate.sidecar, input_dir / candidate.sidecar.name)
        return target
    copy_verified(candidate.path, target, expected=(candidate.size, candidate.mtime_ns))
    sidecar_target: Path | None = None
    if candidate.sidecar is not None:
        sidecar_target = input_dir / candidate.sidecar.name
        copy_verified(candidate.sidecar, sidecar_target, expected=None)
    fsync_folder(input_dir)
    for original in (candidate.path, candidate.sidecar):
        if original is not None:
            remove_original(original)
    fsync_folder(candidate.path.parent)
    return target


def ingested_sidecar(candidate: Candidate, input_dir: Path) -> Path | None:
    """Where ingest put the candidate's sidecar, if it had one."""
    return input_dir / candidate.sidecar.name if candidate.sidecar is not None else None


def copy_verified(source: Path, target: Path, expected: tuple[int, int] | None) -> None:
    """Copy `source` to `target` through a staging name, fsynced; raise unless the copy is identical.

    `expected` is the (size, mtime_ns) the scanner saw; None skips that check (sidecars are re-read whole).
    """
    staging = target.with_name(f".{target.name}.ingest")
    try:
        try:
            # O_NOFOLLOW: a symlink swapped in after the scan is refused, never followed.
            descriptor = os.open(source, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError as error:
            if error.errno == errno.ELOOP:
                raise JobError(f"{source.name} became a symbolic link; links are never followed") from error
            raise TransientError(f"cannot read {source.name} in the inbox: {error.strerror}") from error
        with open(descriptor, "rb") as reader:
            before = os.fstat(reader.fileno())
            if not stat.S_ISREG(before.st_mode):
                raise JobError(f"{source.name} is not a regular file")
            if expected is not None and (before.st_size, before.st_mtime_ns) != expected:
                raise TransientError(
                    f"{source.name} changed after it was seen; it will be taken once it settles"
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
                f"{source.name} changed while it was being copied; it will be taken once it settles"
            )
        if copied != before.st_size:
            raise TransientError(f"{source.name}: copied {copied} bytes of {before.st_size}")
        if file_sha256(staging) != source_hash.hexdigest():
            raise TransientError(f"the copy of {source.name} does not match the original (sha256)")
        os.replace(staging, target)
    except OSError as error:
        raise TransientError(
            f"cannot copy {source.name} into the job folder: {error.strerror or error}"
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
        raise JobError(f"{source.name} disappeared from the inbox") from error
    except OSError as error:
        if error.errno != errno.EXDEV:
            raise TransientError(f"cannot move {source.name} out of the inbox: {error.strerror}") from error
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
        raise TransientError(f"cannot move {source.name} out of the inbox: {error}") from error


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
