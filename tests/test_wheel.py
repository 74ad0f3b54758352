"""The wheel (setup.cfg, setup.py): built from the sources, installed into a fresh venv, its commands run there."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# What the build reads; copied so that the build never writes build/ or egg-info into the checkout.
SOURCES = (
    "setup.py",
    "setup.cfg",
    "pyproject.toml",
    "README.md",
    "MANIFEST.in",
    "mocapd",
    "SmoothNet",
    "etc",
)
TOOLS = ("mocapd-list-tids", "mocapd-extract-track", "mocapd-adapt-smoothnet", "mocapd-npz-to-fbx")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("source")
    for name in SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(path, source / name)
    out = tmp_path_factory.mktemp("wheel")
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(out),
            ".",
        ],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    (path,) = out.glob("mocapd-*.whl")
    return path


def test_the_wheel_holds_the_tools_and_the_example_configuration(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        example = archive.read("mocapd/data/mocapd.toml").decode()
        (entry_points,) = [name for name in names if name.endswith(".dist-info/entry_points.txt")]
        scripts = archive.read(entry_points).decode()
    assert example == (REPO / "etc" / "mocapd.toml").read_text(encoding="utf-8")
    for module in ("list_tids", "extract_track_for_tid", "adapt_smoothnet", "smplx_npz_to_fbx"):
        assert f"mocapd/tools/{module}.py" in names
    for script in ("mocapd", *TOOLS):
        assert f"{script} = " in scripts, script
    assert not any(name.startswith(("tests/", "tools/")) for name in names)


@pytest.mark.slow
def test_the_installed_wheel_runs_its_commands_outside_the_checkout(wheel: Path, tmp_path: Path) -> None:
    environment = {
        key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "MOCAPD_CONFIG")
    }
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q", "--no-deps"]
        + [str(wheel)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert installed.returncode == 0, installed.stderr
    # The dependencies (torch, bpy, ...) come from this environment's site-packages, named by a plain
    # path line: the .pth files there (this checkout's editable install among them) are not run.
    site = Path(sysconfig.get_paths(vars={"base": str(venv), "platbase": str(venv)})["purelib"])
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    def command(*arguments: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(arguments), cwd=elsewhere, env=environment, capture_output=True, text=True, timeout=120
        )

    where = command(str(venv / "bin" / "python"), "-c", "import mocapd; print(mocapd.__file__)")
    assert where.stdout.strip().startswith(str(venv)), where.stdout + where.stderr
    version = command(str(venv / "bin" / "mocapd"), "--version")
    assert version.returncode == 0 and version.stdout.startswith("mocapd "), version.stderr
    example = command(str(venv / "bin" / "mocapd"), "config", "--example")
    assert example.returncode == 0, example.stderr
    assert example.stdout == (REPO / "etc" / "mocapd.toml").read_text(encoding="utf-8")
    for script in TOOLS:
        shown = command(str(venv / "bin" / script), "--help")
        assert shown.returncode == 0 and ("--npz" in shown.stdout or "--pkl" in shown.stdout), shown.stderr
    as_module = command(str(venv / "bin" / "python"), "-m", "mocapd.tools.list_tids", "--help")
    assert as_module.returncode == 0 and "--pkl" in as_module.stdout, as_module.stderr
