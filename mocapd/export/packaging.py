"""The export folder's file names and the package: animation.<ext> for one file, else animations.zip.

The zip holds animation_track<N>.<ext> for every track and format, animation_scene.<ext> (every person
in one file) when there are several tracks, any .fbm folder, and manifest.json, which the export step
writes beside the files.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path
from typing import Any

from mocapd.errors import JobError

FILE_PREFIX = "animation_track"
SCENE_STEM = "animation_scene"
SINGLE_STEM = "animation"
ZIP_NAME = "animations.zip"
MANIFEST_NAME = "manifest.json"


def export_file_name(tid: int, extension: str) -> str:
    """The name of one track's file in one format."""
    return f"{FILE_PREFIX}{tid}.{extension}"


def scene_file_name(extension: str) -> str:
    """The name of the file holding every exported person in one format."""
    return f"{SCENE_STEM}.{extension}"


def armature_name(tid: int) -> str:
    """A person's armature in the scene file, named after their track."""
    return f"track{tid}"


def write_manifest(
    export_dir: Path, tracks: list[dict[str, Any]], formats: list[str], scene: dict[str, Any] | None = None
) -> Path:
    """Write manifest.json: one entry per track (tid, frames, fps, files, the person's first and last
    frame and time, the files' timeline), the formats, and the scene file when there is one."""
    path = export_dir / MANIFEST_NAME
    document: dict[str, Any] = {"tracks": tracks, "formats": formats}
    if scene:
        document["scene"] = scene
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    return path


def exported_files(export_dir: Path) -> list[Path]:
    """The animation files (per track and the scene) and .fbm folders in the export folder, sorted."""
    if not export_dir.is_dir():
        return []
    return sorted(
        path
        for path in export_dir.iterdir()
        if path.name.startswith((FILE_PREFIX, SCENE_STEM)) and not path.name.endswith(".partial")
    )


def package(export_dir: Path, package_dir: Path) -> Path:
    """Make the package from the export folder and return its path; written under a staging name."""
    files = exported_files(export_dir)
    if not files:
        raise JobError(f"nothing to package: the export step wrote no {FILE_PREFIX}* files")
    if package_dir.exists():
        shutil.rmtree(package_dir)
    package_dir.mkdir(parents=True)
    if len(files) == 1 and files[0].is_file():
        result = package_dir / f"{SINGLE_STEM}{files[0].suffix}"
        staging = package_dir / f".{result.name}.partial"
        shutil.copyfile(files[0], staging)
        staging.replace(result)
        return result
    result = package_dir / ZIP_NAME
    staging = package_dir / f".{ZIP_NAME}.partial"
    manifest = export_dir / MANIFEST_NAME
    with zipfile.ZipFile(staging, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            if path.is_dir():  # an .fbm folder of embedded media
                for member in sorted(path.rglob("*")):
                    if member.is_file():
                        archive.write(member, member.relative_to(export_dir).as_posix())
            else:
                archive.write(path, path.name)
        if manifest.is_file():
            archive.write(manifest, MANIFEST_NAME)
    staging.replace(result)
    return result
