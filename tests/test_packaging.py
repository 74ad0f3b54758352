"""Packaging: one file becomes animation.<ext>; several files or an .fbm folder become animations.zip."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from mocapd.errors import JobError
from mocapd.export.packaging import MANIFEST_NAME, ZIP_NAME, export_file_name, package, write_manifest


def export_folder(root: Path, files: dict[str, bytes]) -> Path:
    export_dir = root / "export"
    export_dir.mkdir()
    for name, data in files.items():
        (export_dir / name).write_bytes(data)
    return export_dir


def test_single_track_single_format_gives_animation_fbx(tmp_path: Path) -> None:
    export_dir = export_folder(tmp_path, {export_file_name(1, "fbx"): b"FBX data"})
    write_manifest(
        export_dir, [{"tid": 1, "frames": 10, "fps": 30.0, "files": ["animation_track1.fbx"]}], ["fbx"]
    )
    result = package(export_dir, tmp_path / "package")
    assert result == tmp_path / "package" / "animation.fbx"
    assert result.read_bytes() == b"FBX data"
    assert sorted(path.name for path in result.parent.iterdir()) == ["animation.fbx"]


def test_several_files_give_a_zip_with_the_manifest(tmp_path: Path) -> None:
    files = {
        export_file_name(tid, extension): f"{tid}{extension}".encode()
        for tid in (1, 2)
        for extension in ("fbx", "bvh")
    }
    export_dir = export_folder(tmp_path, files)
    tracks = [{"tid": tid, "frames": 10 * tid, "fps": 25.0, "files": []} for tid in (1, 2)]
    write_manifest(export_dir, tracks, ["fbx", "bvh"])
    (export_dir / "animation_track1.fbx.partial").write_bytes(b"left by a crash")
    result = package(export_dir, tmp_path / "package")
    assert result.name == ZIP_NAME
    with zipfile.ZipFile(result) as archive:
        assert sorted(archive.namelist()) == sorted(list(files) + [MANIFEST_NAME])
        assert archive.read("animation_track2.bvh") == b"2bvh"
        manifest = json.loads(archive.read(MANIFEST_NAME))
    assert manifest["formats"] == ["fbx", "bvh"]
    assert [track["frames"] for track in manifest["tracks"]] == [10, 20]
    assert not any(path.name.endswith(".partial") for path in result.parent.iterdir())


def test_an_fbm_folder_forces_a_zip(tmp_path: Path) -> None:
    export_dir = export_folder(tmp_path, {export_file_name(1, "fbx"): b"FBX"})
    media = export_dir / "animation_track1.fbm"
    media.mkdir()
    (media / "texture.png").write_bytes(b"PNG")
    result = package(export_dir, tmp_path / "package")
    with zipfile.ZipFile(result) as archive:
        assert sorted(archive.namelist()) == ["animation_track1.fbm/texture.png", "animation_track1.fbx"]


def test_repackaging_replaces_the_previous_package(tmp_path: Path) -> None:
    export_dir = export_folder(tmp_path, {export_file_name(1, "fbx"): b"a", export_file_name(1, "glb"): b"b"})
    package(export_dir, tmp_path / "package")
    (export_dir / export_file_name(1, "glb")).unlink()
    result = package(export_dir, tmp_path / "package")
    assert sorted(path.name for path in result.parent.iterdir()) == ["animation.fbx"]


def test_nothing_to_package_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(JobError, match="nothing to package"):
        package(export_folder(tmp_path, {}), tmp_path / "package")
