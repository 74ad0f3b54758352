"""The joint list and presets as plain data: every command starts without importing numpy."""

from __future__ import annotations

import subprocess
import sys

from mocapd import joints, skeleton


def test_the_skeleton_serves_the_same_joint_facts() -> None:
    assert skeleton.JOINT_NAMES is joints.JOINT_NAMES and skeleton.PRESETS is joints.PRESETS
    assert all(len(names) == joints.NUM_JOINTS for names in joints.PRESETS.values())


def test_the_command_line_and_option_checks_start_without_numpy() -> None:
    probe = "import sys, mocapd.cli, mocapd.options; print('numpy' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
