"""report.html and index.html as text: every problem and the next step, order, progress, escaping."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from mocapd import progress, states
from mocapd.config import Config
from mocapd.outbox import Outbox
from mocapd.report import pages
from mocapd.stats import average_step_seconds
from mocapd.store import Store, open_store
from tests.jobs import folders_config, ingested_job, running_job


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return folders_config(tmp_path)


@pytest.fixture
def store(config: Config) -> Store:
    return open_store(config.state_path)


def test_a_failed_report_names_every_bad_option_and_the_retry_command(store: Store, config: Config) -> None:
    job_id = ingested_job(store, "take")
    error = (
        "options: take.json: unknown key 'fsp' (known: fps, formats); 'smoothing_strength' must be at "
        "most 1, got 3; 'formats' must be one of fbx, bvh, glb, got 'obj'"
    )
    store.fail_job(job_id, error, time.time())
    outbox = Outbox(store, config)
    outbox.job_changed(job_id)
    report = (config.outbox_path / "take" / "report.html").read_text()
    problems = re.findall(r'<li class="error">(.*?)</li>', report)
    assert len(problems) == 3
    assert "fsp" in problems[0] and "smoothing_strength" in problems[1] and "obj" in problems[2]
    next_step = re.search(r'<p class="next" id="next-step">(.*?)</p>', report, re.S)
    assert next_step is not None and f"mocapd retry {job_id}" in next_step.group(1)
    assert "Fix every option" in next_step.group(1)


def test_a_failed_step_points_at_its_log_and_a_cancelled_job_is_told_apart(
    store: Store, config: Config
) -> None:
    failed = ingested_job(store, "broken")
    store.update_step(failed, states.FBX_EXPORT, status=states.STEP_FAILED, error="Blender crashed")
    store.fail_job(failed, "export: Blender crashed", time.time())
    cancelled = ingested_job(store, "stopped")
    store.update_job(cancelled, state=states.CANCELLED, finished=time.time(), error="cancelled")
    outbox = Outbox(store, config)
    for job_id in (failed, cancelled):
        outbox.job_changed(job_id)
    broken = (config.outbox_path / "broken" / "report.html").read_text()
    assert f"mocapd logs {failed} --step fbx_export" in broken and f"mocapd retry {failed}" in broken
    stopped = (config.outbox_path / "stopped" / "report.html").read_text()
    assert "was cancelled" in stopped and "cancelled-badge" in stopped
    outbox.flush_index(force=True)
    index = (config.outbox_path / "index.html").read_text()
    failed_part = index[index.index("<h2>Failed") : index.index("<h2>Cancelled")]
    cancelled_part = index[index.index("<h2>Cancelled") :]
    assert "broken" in failed_part and "stopped" not in failed_part
    assert "stopped" in cancelled_part and "broken" not in cancelled_part


def test_results_are_listed_newest_finished_first_with_verdict_and_links(
    store: Store, config: Config
) -> None:
    now = time.time()
    finish_times = {"early": now - 300, "late": now - 10, "middle": now - 100}
    for name, finished in finish_times.items():
        job_id = ingested_job(store, name)
        store.set_tracks(
            job_id,
            [{"tid": 1, "frames": 50, "share": 1.0, "selected": True, "quality": {"detected_share": 0.6}}],
        )
        step_data = {
            states.PACKAGING: {"result": "animation.fbx", "report": {"poster": "preview/poster.jpg"}}
        }
        store.update_job(job_id, state=states.COMPLETED, finished=finished, step_data=json.dumps(step_data))
    index = pages.render_index(store, now)
    completed = index[index.index('id="completed"') : index.index("<h2>Failed")]
    order = [name for name in re.findall(r'<a href="(\w+)/report.html"><bdi>', completed)]
    assert order == ["late", "middle", "early"]
    assert completed.count('<span class="badge poor">poor</span>') == 3
    assert 'href="late/animation.fbx"' in completed and 'src="late/preview/poster.jpg"' in completed


def test_a_running_job_shows_its_overall_progress_and_time_left(store: Store, config: Config) -> None:
    now = time.time()
    job_id = running_job(store, "busy", now)
    record = store.job(job_id)
    assert record is not None
    running = progress.overall(record, store.steps(job_id), average_step_seconds(store), now)
    assert running is not None and 0.05 < running.share < 0.9
    index = pages.render_index(store, now)
    part = index[index.index('id="running"') : index.index("<h2>Queue")]
    assert f'value="{round(100 * running.share)}"' in part
    assert progress.duration(running.remaining_seconds) in part


def test_hostile_option_values_and_names_stay_escaped(store: Store, config: Config) -> None:
    hostile = '<script>alert("x")</script>\n\u202etxt.exe\'"'
    job_id = ingested_job(store, "take", {"output_name": hostile, "smoothing_window": hostile})
    store.fail_job(
        job_id, f"options: take.json: 'smoothing_window' must be an integer, got {hostile!r}", time.time()
    )
    outbox = Outbox(store, config)
    outbox.job_changed(job_id)
    outbox.flush_index(force=True)
    for page in (config.outbox_path / "take" / "report.html", config.outbox_path / "index.html"):
        text = page.read_text()
        assert "<script>" not in text and "&lt;script&gt;" in text


def test_links_encode_every_segment() -> None:
    assert pages.href('a b/<"x">\n#1.fbx') == "a%20b/%3C%22x%22%3E%0A%231.fbx"
