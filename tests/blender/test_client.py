"""The add-on's backend client (addon/client.py) against a scripted fake backend and the real one.

No bpy here: the client runs in plain Python. The fake backend
(tests/fixtures/fake_backend.py) is reached through a wrapper that stands in
for the backend's interpreter, so the client spawns it exactly as it spawns
``python -u -m backend serve``.
"""

from __future__ import annotations

import signal
import sys
import time

import pytest
from conftest import ROOT

from backend.asset import load_asset
from backend.protocol import PROTOCOL_VERSION
from backend.settings import DEFAULT_ENGINES, ENGINE_NAMES


def _job(tmp_path, name="asset", frames=5):
    return {"mode": "two_image", "inputs": {"start": "", "end": ""}, "output": str(tmp_path / name),
            "settings": {"frames": frames, "fps": 12.0, "quality": "draft"}}


def _drain_until_terminal(client, job_id, limit_s=30.0):
    """Poll like the modal timer does, until the job's terminal event. Returns all events seen."""
    seen = []
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        for event in client.poll():
            seen.append(event)
            if event.get("id") == job_id and event["type"] in ("result", "error", "cancelled"):
                return seen
        time.sleep(0.02)
    raise AssertionError(f"no terminal event for {job_id}; saw {seen}")


def test_behaving_backend_runs_a_job_to_a_valid_asset(make_client, tmp_path):
    client = make_client("behave")
    hello = client.wait_ready(timeout=30)
    assert hello["protocol"] == PROTOCOL_VERSION and client.ready
    events = []
    final = client.run_blocking(_job(tmp_path, frames=6), on_event=events.append, timeout=60)
    assert final["type"] == "result", final
    progress = [e["overall"] for e in events if e["type"] == "progress"]
    assert len(progress) == 15 and progress == sorted(progress) and progress[-1] == 1.0
    assert any(e["type"] == "log" and "fake backend" in e["message"] for e in events)
    asset = load_asset(final["asset"])
    assert asset.gaussians.means.shape == (6, 64, 3)
    assert final["summary"]["settings"]["quality"] == "draft"
    # The client started the backend as `python -u -m backend serve`.
    assert "argv=['-u', '-m', 'backend', 'serve']" in client.stderr_tail()
    assert not client.busy
    # A second job reuses the same process.
    pid = client.process.pid
    final2 = client.run_blocking(_job(tmp_path, "second"), timeout=60)
    assert final2["type"] == "result" and client.process.pid == pid
    client.close()
    assert client.process.returncode == 0  # ended by end of stdin / shutdown, not a signal


def test_jobs_submitted_before_the_handshake_are_held_then_sent(make_client, tmp_path):
    client = make_client("behave")
    client.start()
    job_id = client.generate(_job(tmp_path))  # immediately, before `hello` came back
    events = _drain_until_terminal(client, job_id)
    assert events[0]["type"] == "hello"
    assert events[-1]["type"] == "result"


def test_malformed_lines_become_warnings_not_crashes(make_client, tmp_path):
    client = make_client("malformed")
    events = []
    final = client.run_blocking(_job(tmp_path), on_event=events.append, timeout=60)
    assert final["type"] == "result"
    warnings = [e for e in events if e["type"] == "log" and e["level"] == "warning"]
    # not JSON, a JSON array, no type, an unknown type, a truncated object; the blank line is skipped.
    assert len(warnings) == 5, warnings
    assert any("telemetry" in w["message"] for w in warnings)


def test_crash_mid_job_gives_a_synthetic_error_with_stderr(client_mod, make_client, tmp_path):
    client = make_client("crash")
    events = []
    final = client.run_blocking(_job(tmp_path), on_event=events.append, timeout=60)
    assert final["type"] == "error" and final["code"] == client_mod.CODE_CRASHED
    assert "exit code 3" in final["message"] and "fake backend boom" in final["message"]
    assert final["hint"]
    assert [e["type"] for e in events].count("progress") == 2
    assert not client.alive and not client.busy
    assert not (tmp_path / "asset").exists()
    # The dead client refuses further jobs with an error event instead of hanging.
    job_id = client.generate(_job(tmp_path, "again"))
    (event,) = [e for e in client.poll() if e.get("id") == job_id]
    assert event["type"] == "error"


def test_cancel_of_a_running_job_is_answered_by_the_backend(make_client, tmp_path):
    client = make_client("behave", step_s=0.2)
    job_id = client.generate(_job(tmp_path))
    seen = []
    while not any(e["type"] == "progress" for e in seen):
        seen += client.poll()
        time.sleep(0.02)
    client.cancel(job_id)
    events = _drain_until_terminal(client, job_id)
    assert events[-1]["type"] == "cancelled" and "synthetic" not in events[-1]
    assert client.alive  # a cooperative cancel keeps the process for the next job
    assert not (tmp_path / "asset").exists()


def test_cancel_before_the_handshake_drops_the_held_job(make_client, tmp_path):
    client = make_client("behave")
    client.start()
    job_id = client.generate(_job(tmp_path))
    client.cancel(job_id)
    events = _drain_until_terminal(client, job_id)
    assert events[-1]["type"] == "cancelled" and events[-1]["synthetic"]
    # The backend handles requests in order: had the dropped job been sent, its events would come first.
    second = client.generate(_job(tmp_path, "second"))
    later = _drain_until_terminal(client, second)
    assert later[-1]["type"] == "result"
    assert not [e for e in later if e.get("id") == job_id]
    assert not (tmp_path / "asset").exists()


def test_hung_backend_is_terminated_after_the_cancel_grace(make_client, tmp_path):
    client = make_client("hang", cancel_grace_s=0.3, terminate_grace_s=5.0)
    client.wait_ready(timeout=30)
    job_id = client.generate(_job(tmp_path))
    client.cancel(job_id)
    events = _drain_until_terminal(client, job_id)
    assert events[-1]["type"] == "cancelled"
    client.process.wait(5)
    assert client.process.returncode == -signal.SIGTERM


def test_backend_ignoring_sigterm_is_killed(make_client, tmp_path):
    client = make_client("hang_hard", cancel_grace_s=0.2, terminate_grace_s=0.3)
    job_id = client.generate(_job(tmp_path))
    client.wait_ready(timeout=30)
    client.cancel(job_id)
    events = _drain_until_terminal(client, job_id)
    assert events[-1]["type"] == "cancelled"
    client.process.wait(5)
    assert client.process.returncode == -signal.SIGKILL


def test_blocking_path_detects_a_silent_backend(client_mod, make_client, tmp_path):
    client = make_client("hang", cancel_grace_s=0.2, terminate_grace_s=2.0)
    final = client.run_blocking(_job(tmp_path), idle_timeout=0.5)
    assert final["type"] == "error" and final["code"] == client_mod.CODE_TIMEOUT
    assert "sent nothing" in final["message"]
    client.process.wait(5)
    assert client.process.returncode is not None


def test_wrong_protocol_version_is_refused(client_mod, make_client, tmp_path):
    client = make_client("wrong_protocol")
    client.start()
    job_id = client.generate(_job(tmp_path))
    with pytest.raises(client_mod.BackendError) as info:
        client.wait_ready(timeout=30)
    assert info.value.code == client_mod.CODE_PROTOCOL
    assert "999" in info.value.message and str(PROTOCOL_VERSION) in info.value.message
    assert "reinstall" in info.value.hint
    job_events = [e for e in client.poll() if e.get("id") == job_id]
    assert [e["type"] for e in job_events] == ["error"]
    client.process.wait(5)  # stdin was closed: the backend exits by itself
    assert client.process.returncode == 0


def test_backend_refusing_our_protocol_fails_the_handshake_at_once(client_mod, make_client, tmp_path):
    """A backend answers an unsupported hello with an error (issue 9, item 7); the client must not wait for a hello."""
    client = make_client("refuses_protocol")
    client.start()
    t0 = time.monotonic()
    with pytest.raises(client_mod.BackendError) as info:
        client.wait_ready(timeout=30)
    assert time.monotonic() - t0 < 10, "the refusal ends the handshake, not the timeout"
    assert info.value.code == client_mod.CODE_PROTOCOL and "999" in info.value.message


def test_backend_dying_at_start_explains_the_missing_package(client_mod, make_client):
    client = make_client("die_at_start")
    with pytest.raises(client_mod.BackendError) as info:
        client.wait_ready(timeout=30)
    assert info.value.code == client_mod.CODE_START_FAILED
    assert "No module named 'numpy'" in info.value.message and "exit code 1" in info.value.message
    assert info.value.hint == client_mod.INSTALL_HINT


def test_backend_without_its_packages_is_not_ready(client_mod, make_client):
    client = make_client("not_ready")
    with pytest.raises(client_mod.BackendError) as info:
        client.wait_ready(timeout=30)
    assert info.value.code == client_mod.CODE_NOT_READY
    assert "scipy is not installed" in info.value.message and info.value.hint == client_mod.INSTALL_HINT


def test_missing_interpreter_is_a_clear_error(client_mod, tmp_path):
    client = client_mod.BackendClient(tmp_path / "no-such-python", str(ROOT))
    with pytest.raises(client_mod.BackendError) as info:
        client.start()
    assert "not found" in info.value.message and "Install Dependencies" in info.value.hint


def test_close_all_leaves_no_backend_running(client_mod, make_client):
    clients = [make_client("hang_hard"), make_client("behave")]
    for c in clients:
        c.wait_ready(timeout=30)
    client_mod.close_all()
    for c in clients:
        assert c.process.poll() is not None


def test_real_backend_answers_hello(client_mod):
    client = client_mod.BackendClient(sys.executable, str(ROOT))
    try:
        hello = client.wait_ready(timeout=120)
    finally:
        client.close()
    assert hello["protocol"] == PROTOCOL_VERSION
    assert hello.get("ready") is True, hello.get("problems")
    assert hello["engines"] == {stage: list(names) for stage, names in ENGINE_NAMES.items()}
    assert client.process.returncode == 0


def test_real_backend_generates_through_the_client(client_mod, tmp_path):
    """One real job through the client: ordered progress, a result, a loadable asset, no process left."""
    from backend.asset import load_asset

    pair = ROOT / "examples" / "telescope"
    client = client_mod.BackendClient(sys.executable, str(ROOT))
    events = []
    try:
        client.wait_ready(timeout=120)
        job = {"mode": "two_image", "inputs": {"start": str(pair / "start.png"), "end": str(pair / "end.png")},
               "output": str(tmp_path / "asset"), "settings": {"quality": "draft", "frames": 6}}
        final = client.run_blocking(job, on_event=events.append, timeout=300)
    finally:
        client.close()
    assert final["type"] == "result", final
    overall = [e["overall"] for e in events if e["type"] == "progress"]
    assert overall and overall == sorted(overall)
    assert load_asset(final["asset"]).manifest["frame_count"] == 6
    assert client.process.poll() is not None


def test_panel_engine_defaults_match_the_backend(addon_package):
    from tween4d.addon import engines

    assert engines.STAGES == tuple(DEFAULT_ENGINES)
    for stage, name in DEFAULT_ENGINES.items():
        assert engines.default_engine(stage) == name
        names = [item[0] for item in engines.ENGINE_CHOICES[stage]]
        assert tuple(names) == ENGINE_NAMES[stage], f"the panel offers other {stage} engines than the backend runs"


# -- install_deps.py progress (addon/install_runner.py) ---------------------


def test_parse_step_reads_install_deps_progress_lines(addon_package):
    from tween4d.addon.install_runner import parse_step

    assert parse_step("[3/7] Installing torch 2.13.0 (CPU) ...") == (3, 7, "Installing torch 2.13.0 (CPU) ...")
    assert parse_step("  [1/1]") == (1, 1, "")
    for line in ("Collecting numpy", "[8/7] too far", "[0/0] nothing", "x [1/2] not at the start", ""):
        assert parse_step(line) is None


def test_install_runner_follows_steps_and_exit_code(addon_package):
    from tween4d.addon.install_runner import InstallRunner

    script = ("import sys\nfor k in (1, 2, 3):\n    print(f'[{k}/4] step {k}')\n"
              "print('error: disk full', file=sys.stderr)\nsys.exit(2)\n")
    runner = InstallRunner([sys.executable, "-c", script]).start()
    lines = []
    deadline = time.monotonic() + 30
    while runner.returncode is None and time.monotonic() < deadline:
        lines += runner.poll()
        time.sleep(0.02)
    lines += runner.poll()
    assert runner.returncode == 2
    assert lines == ["[1/4] step 1", "[2/4] step 2", "[3/4] step 3", "error: disk full"]
    assert runner.fraction == pytest.approx(0.5) and runner.step_text == "step 3"
    assert "disk full" in runner.tail(2)
