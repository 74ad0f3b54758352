"""Fuzzing (hypothesis) of what a share can hold, against the inbox scan, ingest and option reading.

Whatever the bytes of a name or of a sidecar, taking the file in either works or fails with a
JobError naming the reason; nothing else is raised, the names the daemon stores and shows are
printable UTF-8, and the names it creates stay within NAME_MAX.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mocapd.config import Config, WatchSettings
from mocapd.errors import JobError
from mocapd.inbox.ingest import candidate_record, ingest, ingested_sidecar
from mocapd.inbox.watcher import InboxScanner
from mocapd.names import NAME_MAX, folder_name, input_name, is_clean, shown
from mocapd.options import JobOptions, resolve
from mocapd.store import open_sqlite

# A file name of the filesystem: any bytes but "/" and NUL, 1 to 251 bytes before ".mp4".
NAME_BYTES = st.binary(min_size=1, max_size=251).filter(lambda b: b"/" not in b and b"\0" not in b)
ANY_TEXT = st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=()), max_size=40)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | ANY_TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(ANY_TEXT, children, max_size=4),
    max_leaves=20,
)
OPTION_KEYS = st.sampled_from([field for field in JobOptions.__dataclass_fields__] + ["colour", ""])
SIDECARS = st.one_of(
    st.binary(max_size=2000),  # not JSON at all, or not UTF-8
    st.dictionaries(OPTION_KEYS | ANY_TEXT, JSON_VALUES, max_size=6).map(
        lambda data: json.dumps(data).encode()
    ),
    st.integers(0, 5000).map(lambda depth: ('{"formats": ' + "[" * depth + "]" * depth + "}").encode()),
    st.integers(0, 200_000).map(lambda size: json.dumps({"output_name": "x" * size}).encode()),
)
SETTINGS = settings(
    max_examples=40,
    deadline=None,
    database=None,  # nothing written into the checkout suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


def take(name: bytes, video: bytes, sidecar: bytes | None) -> None:
    """Drop the files under the name, scan, ingest, resolve options and record the job, as the daemon does."""
    root = Path(tempfile.mkdtemp(prefix="fuzz-"))
    try:
        inbox = root / "inbox"
        inbox.mkdir()
        stem = os.fsencode(inbox) + b"/" + name
        with open(stem + b".mp4", "wb") as handle:
            handle.write(video)
        if sidecar is not None:
            with open(stem + b".json", "wb") as handle:
                handle.write(sidecar)
        config = Config(
            inbox=str(inbox), watch=WatchSettings(settle_time=0.0, stable_polls=1, sidecar_grace=0.0)
        )
        candidates = InboxScanner(config).scan()
        if name.startswith(b".") or name.startswith(b"~$"):
            assert candidates == []  # hidden and temporary names are never taken
            return
        (candidate,) = candidates
        store = open_sqlite(root / "state" / "mocapd.db")
        try:
            job_id, created = store.create_job(
                shown(candidate.identity), shown(candidate.relative), candidate_record(candidate), time.time()
            )
            assert created
            record = store.job(job_id)
            assert record is not None and is_clean(record.source_relative)
            record.source_relative.encode("utf-8")
        finally:
            store.close()
        for made in (folder_name(Path(candidate.relative).stem), input_name(candidate.path.name)):
            assert is_clean(made) and len(made.encode("utf-8")) <= NAME_MAX
        input_dir = root / "state" / "jobs" / "1" / "input"
        copied = ingest(candidate, input_dir)
        assert copied.read_bytes() == video
        try:
            options = resolve(JobOptions(), inbox, candidate.path, ingested_sidecar(candidate, input_dir))
        except JobError as error:
            assert str(error) and is_clean(str(error).replace("\n", "")), str(error)
            str(error).encode("utf-8")
        else:
            assert isinstance(options, JobOptions) and options.formats
            json.dumps(options.__dict__).encode("utf-8")
    finally:
        shutil.rmtree(root)


@pytest.mark.slow
@SETTINGS
@given(name=NAME_BYTES)
def test_any_name_is_taken_or_refused_with_a_reason(name: bytes) -> None:
    take(name, b"video bytes", None)


@pytest.mark.slow
@SETTINGS
@given(sidecar=SIDECARS)
def test_any_sidecar_gives_options_or_a_job_error(sidecar: bytes) -> None:
    take(b"clip", b"video bytes", sidecar)


@pytest.mark.slow
@SETTINGS
@given(name=NAME_BYTES, sidecar=SIDECARS)
def test_any_name_with_any_sidecar(name: bytes, sidecar: bytes) -> None:
    take(name[:200], b"v", sidecar)
