"""`mocapd jobs`: one row per job under column headers, times in UTC."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from mocapd import states
from mocapd.store import Store
from tests.commandline import add_job, folders, run, store

__all__ = ["folders", "store"]  # fixtures


def test_jobs_have_column_headers_and_utc_times(
    folders: dict[str, Path], store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    add_job(store, folders, "good", states.COMPLETED)
    bad = add_job(store, folders, "bad", states.FAILED, failed_step=states.TRACKING)
    assert run(folders, "jobs") == 0
    header, first, second = capsys.readouterr().out.splitlines()
    assert header.split() == ["ID", "STATE", "CREATED", "NAME", "DETAIL"]
    created = time.strftime("%Y-%m-%d", time.gmtime(store.job(bad).created))  # type: ignore[union-attr]
    assert first.split()[:6] == [str(bad), "failed", created, first.split()[3], "UTC", "bad"]
    assert first.endswith("tracking: it broke")
    # Columns line up under their headers.
    assert first.index("failed") == header.index("STATE") and second.index("good") == header.index("NAME")
