"""Files written and read inside the daemon's folders without following a link someone put there.

The outbox and the state dir are taken as configured (they may be links themselves, e.g. to a mount);
below them every folder is opened with O_NOFOLLOW as a descriptor, and files are created, renamed and
removed relative to it, so a link put in place of outbox/<name> or state/jobs/<id> is never written
through and nothing outside is removed.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mocapd.names import shown

FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
FILE_MODE = 0o644
FOLDER_MODE = 0o755
CHUNK_BYTES = 1 << 20


class LinkRefused(OSError):
    """A link (or something not a folder) stands where the daemon's own folder must be."""


@contextmanager
def folder(root: Path, *parts: str, create: bool = False) -> Iterator[int]:
    """A descriptor of root/parts..., each part opened without following links (created when asked)."""
    descriptor = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        shown_path = str(root)
        for part in parts:
            shown_path = f"{shown_path}/{shown(part)}"
            try:
                child = _open_child(descriptor, part, create)
            except OSError as error:
                if error.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise LinkRefused(
                        error.errno,
                        f"{shown_path} is a symbolic link or not a folder; links are never followed",
                    ) from error
                raise
            os.close(descriptor)
            descriptor = child
        yield descriptor
    finally:
        os.close(descriptor)


@contextmanager
def folder_at(parent: int, name: str) -> Iterator[int]:
    """A descriptor of the folder `name` in the open folder `parent`, not through a link."""
    try:
        descriptor = os.open(name, FOLDER_FLAGS, dir_fd=parent)
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.ENOTDIR):
            raise LinkRefused(error.errno, f"{shown(name)} is a symbolic link or not a folder") from error
        raise
    try:
        yield descriptor
    finally:
        os.close(descriptor)


def _open_child(parent: int, name: str, create: bool) -> int:
    try:
        return os.open(name, FOLDER_FLAGS, dir_fd=parent)
    except FileNotFoundError:
        if not create:
            raise
    try:
        os.mkdir(name, FOLDER_MODE, dir_fd=parent)
    except FileExistsError:
        pass  # made meanwhile, or a dangling link: the open below tells
    return os.open(name, FOLDER_FLAGS, dir_fd=parent)


def is_link_or_not_folder(parent: int, name: str) -> bool:
    """True when `name` in the folder `parent` exists but is not a real folder."""
    try:
        mode = os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode
    except FileNotFoundError:
        return False
    return not stat.S_ISDIR(mode)


def move_aside(parent: int, name: str) -> str:
    """Rename the entry `name` (e.g. a link) to a free `name.link[-N]` in the same folder; the new name."""
    for number in range(1, 1000):
        target = f"{name}.link" if number == 1 else f"{name}.link-{number}"
        try:
            os.stat(target, dir_fd=parent, follow_symlinks=False)
        except FileNotFoundError:
            os.rename(name, target, src_dir_fd=parent, dst_dir_fd=parent)
            return target
    raise OSError(errno.EEXIST, f"no free name to move {shown(name)} aside")


def write_file(parent: int, name: str, data: bytes, durable: bool = False) -> None:
    """Write `name` in the folder `parent` through a hidden staging file, then rename it into place."""
    staging = f".{name}.tmp-{uuid.uuid4().hex[:8]}"
    descriptor = os.open(
        staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE, dir_fd=parent
    )
    try:
        try:
            with open(descriptor, "wb", closefd=False) as handle:
                handle.write(data)
                handle.flush()
                if durable:
                    os.fsync(descriptor)
        finally:
            os.close(descriptor)
        os.replace(staging, name, src_dir_fd=parent, dst_dir_fd=parent)
    except BaseException:
        _unlink_quietly(parent, staging)
        raise


def copy_file(source_parent: int, source_name: str, parent: int, name: str) -> None:
    """Copy a regular file (never a link) between two open folders, atomically and fsynced."""
    staging = f".{name}.tmp-{uuid.uuid4().hex[:8]}"
    source = os.open(source_name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=source_parent)
    try:
        if not stat.S_ISREG(os.fstat(source).st_mode):
            raise LinkRefused(errno.EINVAL, f"{shown(source_name)} is not a regular file")
        target = os.open(
            staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE, dir_fd=parent
        )
        try:
            with open(source, "rb", closefd=False) as reader, open(target, "wb", closefd=False) as writer:
                shutil.copyfileobj(reader, writer, CHUNK_BYTES)
                writer.flush()
                os.fsync(target)
        finally:
            os.close(target)
        os.replace(staging, name, src_dir_fd=parent, dst_dir_fd=parent)
    except BaseException:
        _unlink_quietly(parent, staging)
        raise
    finally:
        os.close(source)


def regular_files(parent: int) -> list[str]:
    """Names of the regular files (no links, no folders, no hidden names) in an open folder, sorted."""
    with os.scandir(parent) as entries:
        return sorted(
            entry.name
            for entry in entries
            if entry.is_file(follow_symlinks=False) and not entry.name.startswith(".")
        )


def remove_tree(parent: int, name: str) -> None:
    """Remove the folder `name` in `parent` and what it holds; links inside are removed, not followed."""
    shutil.rmtree(name, dir_fd=parent, ignore_errors=True)


def _unlink_quietly(parent: int, name: str) -> None:
    try:
        os.unlink(name, dir_fd=parent)
    except OSError:
        pass


def check_real_folder(path: Path, root: Path) -> None:
    """Raise LinkRefused unless every part of `path` below `root` is a real folder (no link)."""
    relative = path.relative_to(root)
    with folder(root, *relative.parts):
        pass
