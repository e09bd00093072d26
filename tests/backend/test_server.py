"""The JSON-lines server: handshake, robustness to bad lines, progress order, cancel, errors, exit on EOF."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from backend.protocol import PROTOCOL_VERSION

ROOT = Path(__file__).resolve().parents[2]


class ServerProcess:
    """A real ``python -m backend serve`` subprocess with line helpers."""

    def __init__(self):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "backend", "serve"], cwd=ROOT, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )

    def send(self, obj) -> None:
        line = obj if isinstance(obj, (bytes, str)) else json.dumps(obj)
        if isinstance(line, str):
            line = line.encode()
        self.proc.stdin.write(line.rstrip(b"\n") + b"\n")
        self.proc.stdin.flush()

    def read(self) -> dict:
        line = self.proc.stdout.readline()
        assert line, "backend closed its stdout: " + self.proc.stderr.read().decode()[-2000:]
        return json.loads(line)

    def until_terminal(self, limit: float = 300) -> list[dict]:
        events, t0 = [], time.monotonic()
        while time.monotonic() - t0 < limit:
            ev = self.read()
            events.append(ev)
            if ev["type"] in ("result", "error", "cancelled"):
                return events
        raise AssertionError("no terminal event in time")

    def kill_after(self, seconds: float) -> None:
        """Kill the server after ``seconds`` so a test waiting for a line fails instead of hanging."""
        timer = threading.Timer(seconds, self.proc.kill)
        timer.daemon = True
        timer.start()

    def close(self) -> int:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            return self.proc.wait(timeout=15)
        return self.proc.returncode


@pytest.fixture
def server():
    s = ServerProcess()
    yield s
    if s.proc.poll() is None:
        s.proc.kill()
        s.proc.wait()


def _job(examples_dir, out, **settings):
    pair = examples_dir / "telescope"
    return {"type": "generate", "id": "j1", "mode": "two_image",
            "inputs": {"start": str(pair / "start.png"), "end": str(pair / "end.png")},
            "output": str(out), "settings": {"quality": "draft", "frames": 8, **settings}}


def test_handshake_and_bad_lines_do_not_kill_the_server(server):
    server.send({"type": "hello", "protocol": PROTOCOL_VERSION})
    hello = server.read()
    assert hello["type"] == "hello" and hello["protocol"] == PROTOCOL_VERSION and hello["ready"] is True
    server.send(b"this is not json")
    assert server.read()["code"] == "protocol"
    server.send({"no": "type"})
    assert server.read()["code"] == "protocol"
    server.send({"type": "frobnicate"})
    assert "unknown request" in server.read()["message"]
    server.send({"type": "hello", "protocol": PROTOCOL_VERSION})
    assert server.read()["type"] == "hello"
    assert server.close() == 0, "end of stdin must end the server"


def test_progress_is_ordered_and_result_is_a_valid_asset(server, examples_dir, tmp_path):
    from backend.asset import load_asset

    _hello(server)
    server.send(_job(examples_dir, tmp_path / "asset"))
    events = server.until_terminal()
    assert events[-1]["type"] == "result", events[-1]
    progress = [e for e in events if e["type"] == "progress"]
    overall = [e["overall"] for e in progress]
    assert overall == sorted(overall), "overall progress must never go back"
    stages = [e["stage_index"] for e in progress]
    assert stages == sorted(stages) and stages[0] == 0 and stages[-1] == progress[-1]["stage_count"] - 1
    assert all(e["id"] == "j1" for e in events)
    asset = load_asset(events[-1]["asset"])
    assert asset.manifest["frame_count"] == 8


def test_cancel_stops_quickly_and_leaves_no_asset(server, examples_dir, tmp_path):
    _hello(server)
    out = tmp_path / "asset"
    server.send(_job(examples_dir, out, quality="standard", frames=49))
    while True:  # cancel once the job is well under way
        ev = server.read()
        if ev["type"] == "progress" and ev["stage"] == "inbetween":
            break
        assert ev["type"] in ("progress", "log"), ev
    t0 = time.monotonic()
    server.send({"type": "cancel", "id": "j1"})
    events = server.until_terminal()
    assert events[-1]["type"] == "cancelled"
    assert time.monotonic() - t0 < 2.5, "cancel must take effect within a second or two"
    assert not out.exists()
    assert not list(tmp_path.iterdir()), "no temporary folder may remain"


def test_bad_input_gives_an_actionable_error(server, tmp_path):
    _hello(server)
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    server.send({"type": "generate", "id": "j2", "inputs": {"start": str(bad), "end": str(tmp_path / "missing.png")},
                 "output": str(tmp_path / "out"), "settings": {"quality": "draft", "frames": 4}})
    err = server.until_terminal()[-1]
    assert err["type"] == "error" and err["id"] == "j2"
    assert err["code"].startswith("input") and err["hint"], err
    assert "broken.png" in err["message"]
    server.send({"type": "generate", "id": "j3", "inputs": {"start": str(bad), "end": str(bad)},
                 "output": str(tmp_path / "out"), "settings": {"frames": 1}})
    err = server.until_terminal()[-1]
    assert err["code"] == "job" and "frames" in err["message"]
    assert not (tmp_path / "out").exists()


def _hello(server) -> dict:
    server.send({"type": "hello", "protocol": PROTOCOL_VERSION})
    hello = server.read()
    assert hello["type"] == "hello", hello
    return hello


def test_deeply_nested_line_is_refused_and_the_running_job_survives(server, examples_dir, tmp_path):
    """Issue 9, item 2: 100,000 nested '[' used to kill the server (RecursionError) and its job."""
    _hello(server)
    server.send(_job(examples_dir, tmp_path / "asset"))
    first = server.read()
    assert first["type"] in ("progress", "log"), first
    server.send(b'{"type":"hello","x":' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    events = server.until_terminal()
    refusals = [e for e in events if e["type"] == "error" and e["id"] is None]
    assert refusals and refusals[0]["code"] == "protocol" and "nested too deeply" in refusals[0]["message"]
    # The refusal is not the job's end: the job goes on to its result.
    while events[-1]["id"] is None:
        events += server.until_terminal()
    assert events[-1]["type"] == "result" and events[-1]["id"] == "j1", events[-1]
    _hello(server)
    assert server.close() == 0


def test_lone_surrogate_in_an_event_is_sent_not_taken_for_a_closed_pipe(server, tmp_path):
    """Issue 9, item 3: a path with a non-UTF-8 byte ("\\udcff") silently ended the server."""
    server.kill_after(60)
    _hello(server)
    missing = str(tmp_path / "nope\udcff.png")
    server.send(json.dumps({"type": "generate", "id": "j\udcff", "inputs": {"start": missing, "end": missing},
                            "output": str(tmp_path / "out"), "settings": {"quality": "draft", "frames": 4}}))
    err = server.until_terminal()[-1]
    assert err["type"] == "error" and err["id"] == "j\udcff", err
    assert err["code"] == "input.missing" and missing in err["message"], "the path round-trips through the escapes"
    _hello(server)
    assert server.close() == 0


def test_malformed_jobs_get_an_error_naming_the_field(server, tmp_path):
    """Issue 9, item 5: non-object inputs/settings and bad seeds ended as 'internal error'."""
    _hello(server)
    base = {"type": "generate", "inputs": {"start": "a.png", "end": "b.png"}, "output": str(tmp_path / "o")}
    cases = [({"inputs": "a.png"}, "inputs"), ({"settings": [1]}, "settings"),
             ({"settings": {"seed": 2**70}}, "settings.seed"), ({"settings": {"inflation": "x"}}, "settings.inflation")]
    for i, (over, field) in enumerate(cases):
        server.send({**base, "id": f"bad{i}", **over})
        err = server.until_terminal()[-1]
        assert err["type"] == "error" and err["id"] == f"bad{i}" and err["code"] == "job", err
        assert err["field"] == field and err["hint"], err
    assert not (tmp_path / "o").exists()


def test_fifo_as_an_image_is_refused_and_the_server_stays_free(server, tmp_path):
    """Issue 9, item 6: a FIFO input hung the job, so every later job was 'busy'."""
    import os

    server.kill_after(60)
    _hello(server)
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    job = {"type": "generate", "id": "f1", "inputs": {"start": str(fifo), "end": str(fifo)},
           "output": str(tmp_path / "o"), "settings": {"quality": "draft", "frames": 4}}
    err = server.until_terminal()[-1] if server.send(job) is None else None
    assert err["type"] == "error" and err["code"] == "input.not_image" and "FIFO" in err["message"], err
    server.send({**job, "id": "f2"})
    assert server.until_terminal()[-1]["code"] == "input.not_image", "a later job is served, not 'busy'"


def test_hello_is_required_and_its_version_checked(server, tmp_path):
    """Issue 9, item 7: generate was served without hello, and hello with protocol 99 was answered as compatible."""
    job = {"type": "generate", "id": "early", "inputs": {"start": "a.png", "end": "b.png"}, "output": str(tmp_path / "o")}
    server.send(job)
    err = server.read()
    assert err["type"] == "error" and err["id"] == "early" and err["code"] == "protocol.hello", err
    for theirs in (99, "1", True, None):
        server.send({"type": "hello", "protocol": theirs})
        err = server.read()
        assert err["type"] == "error" and err["id"] is None and err["code"] == "protocol.version", err
        assert err["protocol"] == PROTOCOL_VERSION and err["hint"]
    server.send(job)
    assert server.read()["code"] == "protocol.hello", "a refused hello does not open the session"
    _hello(server)
    server.send({**job, "settings": {"frames": 1}})
    assert server.read()["code"] == "job", "after hello, generate is served"
    assert not (tmp_path / "o").exists()


def test_busy_refusal_reusing_the_running_id_is_not_that_jobs_end(server, examples_dir, tmp_path):
    """Issue 9, item 7: 'busy' for a request reusing the running job's id carried that id."""
    _hello(server)
    server.send(_job(examples_dir, tmp_path / "asset"))
    server.send(_job(examples_dir, tmp_path / "other"))  # same id "j1"
    server.send({**_job(examples_dir, tmp_path / "other"), "id": "j2"})
    events = server.until_terminal()
    busy = [e for e in events if e["type"] == "error" and e["code"] == "busy"]
    while events[-1]["type"] == "error" and events[-1]["code"] == "busy":
        events += server.until_terminal()
        busy = [e for e in events if e["type"] == "error" and e["code"] == "busy"]
    assert events[-1]["type"] == "result" and events[-1]["id"] == "j1", events[-1]
    same, other = sorted(busy, key=lambda e: e["request_id"])
    assert same["id"] is None and same["request_id"] == "j1" and same["running_id"] == "j1"
    assert other["id"] == "j2" and other["request_id"] == "j2"
    assert not (tmp_path / "other").exists()


def _partial_appears(parent: Path, limit_s: float = 240.0) -> bool:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if any(".partial-" in p.name for p in parent.iterdir()):
            return True
        time.sleep(0.001)
    return False


@pytest.mark.parametrize("how", ["sigterm", "end_of_stdin"])
def test_server_stopped_during_the_write_leaves_nothing(server, examples_dir, tmp_path, how):
    """Issue 9, item 4: SIGTERM was not handled, and at end of stdin the server waited only 5 s."""
    import signal

    _hello(server)
    server.send(_job(examples_dir, tmp_path / "asset", frames=40, frame_plys=True, preview=False))
    assert _partial_appears(tmp_path), "the job never reached the write"
    if how == "sigterm":
        server.proc.send_signal(signal.SIGTERM)
    else:
        server.proc.stdin.close()
    assert server.proc.wait(timeout=60) == (143 if how == "sigterm" else 0)
    assert list(tmp_path.iterdir()) == [], "nothing may remain, hidden or not"
