"""Test-session hooks shared by every module."""

from __future__ import annotations

import os
import sys

import pytest

_exit_status = 0


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    global _exit_status
    _exit_status = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """Leave without the interpreter's teardown, once every result has been reported.

    A native library the tests load (seen with the full suite: no Python frame in the fault) crashes
    in its destructors at interpreter exit with SIGSEGV, which would turn a passing run into exit 139.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_exit_status)
