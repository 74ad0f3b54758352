"""Finding Blender and running it in a child process: one start writes every FBX file of a job.

A configured `blender` executable is used when set; otherwise the bpy module of mocapd's own Python.
Blender's output goes to the step's log; a crash or a timeout fails the step, never the daemon.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mocapd.config import Config
from mocapd.errors import JobError, TransientError
from mocapd.export.motion import ARMATURE_NAME, GO_AHEAD

SCENE_SCRIPT = Path(__file__).with_name("blender_scene.py")
SCENE_MODULE = "mocapd.export.blender_scene"
PACKAGE_ROOT = Path(__file__).resolve().parents[2]
INSTALL_HINT = (
    "install the bpy package (pip install bpy==5.0.1) or set blender.executable to a Blender 3.4+ executable"
)
# Lines of Blender's log quoted in an error message.
LOG_TAIL_LINES = 8


@dataclass
class FbxExport:
    """One FBX file to write: its armatures, each a name and a prepared motion (motion.save NPZ)."""

    out_path: Path
    armatures: list[tuple[str, Path]]

    @classmethod
    def single(cls, motion_path: Path, out_path: Path) -> FbxExport:
        """One person's file: one armature named `Armature`, which Unreal's importer drops."""
        return cls(out_path, [(ARMATURE_NAME, motion_path)])


def find_blender(config: Config) -> tuple[bool, str]:
    """(usable, description): whether an FBX can be written, and with what, or what to install."""
    executable = config.blender.executable
    if executable:
        found = shutil.which(executable)
        if found is None:
            return (
                False,
                f"Blender not found: {INSTALL_HINT} (blender.executable {executable!r} is not an executable file)",
            )
        return True, f"Blender executable {found}"
    if importlib.util.find_spec("bpy") is None:
        return False, f"Blender not found: {INSTALL_HINT}"
    return True, f"bpy module of {sys.executable}"


def command(config: Config, request_path: Path, wait: bool = False) -> list[str]:
    """The child process's command line for a request; wait: it reads the go-ahead from stdin first."""
    executable = config.blender.executable
    arguments = ["--request", str(request_path)] + (["--wait"] if wait else [])
    if executable:
        return [
            executable,
            "-b",
            "--factory-startup",
            "--python-exit-code",
            "1",
            "--python",
            str(SCENE_SCRIPT),
            "--",
            *arguments,
        ]
    return [sys.executable, "-m", SCENE_MODULE, *arguments]


def log_tail(log_path: Path) -> str:
    """The last lines of Blender's log, for an error message."""
    try:
        lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(line for line in lines[-LOG_TAIL_LINES:] if line.strip())


def signal_name(number: int) -> str:
    """SIGSEGV for 11, or the number where the platform has no name for it."""
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def go_ahead(process: subprocess.Popen[bytes]) -> None:
    """Tell a waiting Blender that its motion files are written; one that has ended already says why
    through its exit code."""
    assert process.stdin is not None
    try:
        process.stdin.write(f"{GO_AHEAD}\n".encode())
        process.stdin.close()
    except BrokenPipeError:
        pass


def run_blender(
    config: Config,
    exports: list[FbxExport],
    request_path: Path,
    log_path: Path,
    timeout: float,
    meanwhile: Callable[[], None] | None = None,
    before: Callable[[], None] | None = None,
) -> None:
    """Write all `exports` in one Blender process; JobError (TransientError on timeout) names the cause.

    before: what writes the exports' motion files, run while Blender starts (it waits for them);
    meanwhile: work of this process done while Blender runs (Blender keeps one core busy)."""
    usable, description = find_blender(config)
    if not usable:
        raise JobError(description)
    request = {
        "exports": [
            {
                "out": str(item.out_path),
                "armatures": [{"name": name, "motion": str(path)} for name, path in item.armatures],
            }
            for item in exports
        ]
    }
    request_path.write_text(json.dumps(request, indent=1), encoding="utf-8")
    for item in exports:
        item.out_path.unlink(missing_ok=True)
    environment = dict(os.environ)
    environment["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(PACKAGE_ROOT), environment.get("PYTHONPATH", "")])
    )
    log_path.parent.mkdir(parents=True, exist_ok=True)
    line = command(config, request_path, wait=before is not None)
    with open(log_path, "ab") as log:
        log.write(f"$ {' '.join(line)}\n".encode())
        log.flush()
        # Its own session, so a timeout kills Blender and anything it started.
        process = subprocess.Popen(
            line,
            stdin=subprocess.DEVNULL if before is None else subprocess.PIPE,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=environment,
            start_new_session=True,
        )
        started = time.monotonic()
        try:
            if before is not None:
                before()
                go_ahead(process)
            if meanwhile is not None:
                meanwhile()
            code = process.wait(timeout=max(0.0, timeout - (time.monotonic() - started)))
        except BaseException as error:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            if not isinstance(error, subprocess.TimeoutExpired):
                raise  # the work done meanwhile failed: Blender is not left running
            raise TransientError(f"Blender did not finish the FBX export within {timeout:.0f} s") from None
    if code != 0:
        cause = f"exit code {code}" if code > 0 else f"killed by {signal_name(-code)}"
        tail = log_tail(log_path)
        raise JobError(f"Blender failed writing the FBX ({cause})" + (f":\n{tail}" if tail else ""))
    missing = [item.out_path.name for item in exports if not item.out_path.is_file()]
    if missing:
        raise JobError(f"Blender finished but did not write {', '.join(missing)}; see {log_path.name}")
