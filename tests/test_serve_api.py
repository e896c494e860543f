"""trackscope serve, end to end: a real uvicorn server started as `python -m trackscope serve` on 127.0.0.1 (port 0:
it picks a free one and prints the URL), driven over HTTP with requests — uploads of good and bad files, the song's
detail, audio with Range, the spectrogram, downloads, delete, errors as JSON, the token, the list's latency while
songs are analysed, and kill -9 mid-analysis then a restart on the same workspace."""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import requests

from audio_synth import a_minor_progression, drum_pattern, music_like, write

XSS = "<img src=x onerror=alert(1)>.mp3"
MAX_UPLOAD_MB = 1
TIMEOUT = 60.0


class Server:
    """``trackscope serve`` in a subprocess (its own process group), stdout/stderr to files (no pipe to fill)."""

    def __init__(self, workspace: Path, logs: Path, *extra: str) -> None:
        self.workspace, self.logs, self.extra = workspace, logs, extra
        self.proc: subprocess.Popen | None = None
        self.url = ""
        self.printed = ""
        self.starts = 0
        self.groups: list[int] = []  # every start's process group (a kill -9 leaves the workers of the first)

    def start(self) -> Server:
        self.starts += 1
        out = self.logs / f"stdout-{self.starts}.txt"
        err = self.logs / f"stderr-{self.starts}.txt"
        env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
        cmd = [sys.executable, "-m", "trackscope", "serve", "--workspace", str(self.workspace), "--port", "0"]
        with open(out, "wb") as fout, open(err, "wb") as ferr:
            self.proc = subprocess.Popen(
                [*cmd, "--workers", "1", *self.extra], stdout=fout, stderr=ferr, env=env, start_new_session=True
            )
        self.groups.append(self.proc.pid)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            found = re.search(r"(http://127\.0\.0\.1:\d+/)(\S*)", out.read_text())
            if found:
                self.url, self.printed = found.group(1).rstrip("/"), found.group(0)
                break
            if self.proc.poll() is not None:
                pytest.fail(f"the server exited ({self.proc.returncode}): {err.read_text()[-2000:]}")
            time.sleep(0.05)
        else:
            pytest.fail(f"the server printed no URL: {err.read_text()[-2000:]}")
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "/healthz", timeout=2).json() == {"ok": True}:
                    return self
            except requests.ConnectionError:
                time.sleep(0.05)
        pytest.fail("the server never answered /healthz")

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)  # the server process only: its workers must notice by themselves
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        for group in self.groups:  # whatever our servers left behind (after kill -9: their workers)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, signal.SIGKILL)

    def stderr(self) -> str:
        return "".join(p.read_text() for p in sorted(self.logs.glob("stderr-*.txt")))

    def get(self, path: str, **kw) -> requests.Response:
        return requests.get(self.url + path, timeout=10, **kw)


@pytest.fixture(scope="module")
def songs(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("songs")
    out = {
        "bright": write(d / "bright.wav", music_like(8.0, bpm=128, seed=1)),
        "minor": write(d / "minor.flac", a_minor_progression(bar=1.0, repeats=2)),
        "drums": write(d / "drums.ogg", drum_pattern(100, 8.0, seed=2), format="OGG", subtype="VORBIS"),
        "xss": write(d / "xss.wav", music_like(6.0, bpm=90, seed=3)),
    }
    (d / "notes.mp3").write_text("these are my lyrics, not audio\n" * 40)
    out["text"] = d / "notes.mp3"
    (d / "empty.wav").write_bytes(b"")
    out["empty"] = d / "empty.wav"
    big = d / "huge.wav"
    big.write_bytes(b"RIFF" + np.random.default_rng(0).bytes(MAX_UPLOAD_MB * 1024 * 1024 + 100_000))
    out["big"] = big
    return out


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    ws = tmp_path_factory.mktemp("workspace")
    srv = Server(ws, tmp_path_factory.mktemp("logs"), "--max-upload-mb", str(MAX_UPLOAD_MB))
    srv.start()
    yield srv
    srv.stop()
    assert "Traceback" not in srv.stderr(), srv.stderr()[-3000:]


def _files(pairs: list[tuple[str, Path]]) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("files", (name, path.read_bytes(), "application/octet-stream")) for name, path in pairs]


def _wait_settled(srv: Server, ids: list[int], timeout: float = TIMEOUT) -> dict[int, dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = {s["id"]: s for s in srv.get("/api/songs", params={"limit": 5000}).json()["songs"]}
        if all(rows[i]["status"] in ("done", "failed") for i in ids):
            return rows
        time.sleep(0.2)
    pytest.fail(f"songs still not analysed after {timeout} s: {[(i, rows[i]['status']) for i in ids]}")


@pytest.fixture(scope="module")
def uploaded(server, songs):
    """The first batch in one request: four songs, a text file named .mp3, an empty file, one over the limit."""
    names = [
        ("bright.wav", songs["bright"]),
        ("minor.flac", songs["minor"]),
        ("notes.mp3", songs["text"]),
        ("drums.ogg", songs["drums"]),
        ("empty.wav", songs["empty"]),
        ("huge.wav", songs["big"]),
        (XSS, songs["xss"]),
    ]
    t0 = time.perf_counter()
    res = requests.post(server.url + "/api/songs", files=_files(names), timeout=30)
    took = time.perf_counter() - t0
    assert res.status_code == 202, res.text
    got = res.json()["songs"]
    assert [s["name"] for s in got] == [n for n, _ in names]  # one row per file, in the order sent
    rows = _wait_settled(server, [s["id"] for s in got])
    return {n: rows[s["id"]] for (n, _), s in zip(names, got, strict=True)} | {"_took": took, "_answer": got}


def test_upload_answers_at_once_and_each_file_gets_its_row(uploaded):
    answer = {s["name"]: s for s in uploaded["_answer"]}
    assert uploaded["_took"] < 5, "the upload waited for something (analysis must run in the background)"
    assert {answer[n]["status"] for n in ("bright.wav", "minor.flac", "drums.ogg", XSS)} == {"queued"}
    for name in ("bright.wav", "minor.flac", "drums.ogg", XSS):
        song = uploaded[name]
        assert song["status"] == "done" and song["error"] is None, song
        assert song["quadrant"] in ("Q1", "Q2", "Q3", "Q4") and song["mood"]
        assert -1 <= song["arousal"] <= 1 and -1 <= song["valence"] <= 1
        assert song["key"] and ("major" in song["key"] or "minor" in song["key"])
        assert song["tempo"] > 0 and song["duration"] > 5 and song["loudness_lufs"] < 0
        assert pytest.approx(sum(song["probabilities"].values()), abs=1e-6) == 1
    reasons = {n: uploaded[n]["error"] for n in ("notes.mp3", "empty.wav", "huge.wav")}
    assert all(uploaded[n]["status"] == "failed" for n in reasons)
    assert all(r and "\n" not in r and "Traceback" not in r for r in reasons.values()), reasons
    assert "text" in reasons["notes.mp3"] and "empty" in reasons["empty.wav"]
    assert reasons["huge.wav"] == f"over the {MAX_UPLOAD_MB} MB limit"
    assert {n: answer[n]["error"] for n in reasons} == reasons  # the 202 answer says why at once
    assert uploaded[XSS]["name"] == XSS  # a name is data: kept as sent (the page escapes it)


def test_the_same_audio_again_is_the_same_song(server, songs, uploaded):
    res = requests.post(server.url + "/api/songs", files=_files([("again.wav", songs["bright"])]), timeout=30)
    assert res.status_code == 202
    (song,) = res.json()["songs"]
    assert song["id"] == uploaded["bright.wav"]["id"] and song["status"] == "done"
    names = [s["name"] for s in server.get("/api/songs").json()["songs"]]
    assert "again.wav" not in names and len(names) == len(set(names))
    tmp = server.workspace / "tmp"
    assert not [p for p in tmp.iterdir() if p.is_file()], "uploads left temporary files"


def test_song_detail_audio_mel_and_downloads(server, uploaded):
    sid = uploaded["bright.wav"]["id"]
    song = server.get(f"/api/songs/{sid}").json()
    assert song["windows"] and {"start", "mood", "quadrant", "arousal", "valence"} <= set(song["windows"][0])
    assert song["tags"] and {"tag", "score"} <= set(song["tags"][0])
    wave = song["waveform"]
    assert 0 < wave["points"] <= 1000 and len(wave["lo"]) == len(wave["hi"]) == wave["points"]
    assert len(song["analyses"]) == 1

    audio = server.get(f"/api/songs/{sid}/audio", headers={"Range": "bytes=100-1099"})
    assert audio.status_code == 206 and len(audio.content) == 1000
    assert audio.headers["content-type"].startswith("audio/") and audio.headers["content-range"].startswith(
        "bytes 100-1099/"
    )
    assert audio.content == uploaded_bytes(server, sid)[100:1100]

    mel = server.get(f"/api/songs/{sid}/mel.webp")
    assert mel.status_code == 200 and mel.headers["content-type"] == "image/webp"
    assert mel.content[:4] == b"RIFF" and mel.content[8:12] == b"WEBP"

    as_json = server.get(f"/api/songs/{sid}.json")
    assert as_json.json()["id"] == sid and "attachment" in as_json.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(server.get(f"/api/songs/{sid}.csv").text)))
    assert len(rows) == len(song["windows"]) and rows[0]["mood"] == song["windows"][0]["mood"]

    xss = server.get(f"/api/songs/{uploaded[XSS]['id']}.json")
    assert xss.json()["name"] == XSS and "<img" not in xss.headers["content-disposition"]

    export = list(csv.DictReader(io.StringIO(server.get("/api/export.csv").text)))
    assert {r["name"] for r in export} >= {"bright.wav", "notes.mp3", XSS}
    assert {r["status"] for r in export} == {"done", "failed"}


def uploaded_bytes(server: Server, sid: int) -> bytes:
    return server.get(f"/api/songs/{sid}/audio").content


def test_list_filters_sorts_and_pages(server, uploaded):
    failed = server.get("/api/songs", params={"status": "failed"}).json()
    assert failed["total"] == 3 and {s["status"] for s in failed["songs"]} == {"failed"}
    page = server.get("/api/songs", params={"sort": "name", "order": "desc", "limit": 2}).json()
    assert page["total"] == 7 and len(page["songs"]) == 2
    assert [s["name"] for s in page["songs"]] == sorted((n for n in uploaded if not n.startswith("_")), key=str.lower)[
        ::-1
    ][:2]
    assert [s["name"] for s in server.get("/api/songs", params={"q": "drum"}).json()["songs"]] == ["drums.ogg"]
    status = server.get("/api/status").json()
    assert status["counts"]["done"] == 4 and status["counts"]["failed"] == 3 and status["total"] == 7


@pytest.mark.parametrize(
    "method, path, codes",
    [
        ("get", "/api/songs/abc", {404, 422}),
        ("get", "/api/songs/-1", {404, 422}),
        ("get", "/api/songs/99999999999999999999999", {404, 422}),
        ("get", "/api/songs/123456", {404}),
        ("get", "/api/songs/123456/audio", {404}),
        ("get", "/api/songs/123456/mel.webp", {404}),
        ("get", "/api/songs/..%2F..%2Fetc%2Fpasswd/audio", {404, 422}),
        ("delete", "/api/songs/abc", {404, 405, 422}),
        ("delete", "/api/songs/123456", {404}),
        ("get", "/api/songs?limit=0", {422}),
        ("get", "/api/songs?limit=5001", {422}),
        ("get", "/api/songs?sort=password", {422}),
        ("get", "/api/songs?order=sideways", {422}),
        ("get", "/api/songs?status=lost", {422}),
        ("get", "/api/nothing-here", {404}),
        ("post", "/api/songs", {415}),
    ],
)
def test_errors_are_one_line_json(server, method, path, codes):
    res = getattr(requests, method)(server.url + path, timeout=10)
    assert res.status_code in codes, res.text
    assert res.headers["content-type"].startswith("application/json")
    error = res.json()["error"]
    assert error and "\n" not in error and "Traceback" not in error


def test_bad_multipart_requests_are_json_errors(server):
    none = requests.post(server.url + "/api/songs", files={"other": ("x.txt", b"hello")}, timeout=10)
    assert none.status_code == 422 and "files" in none.json()["error"]
    boundary = "b0undary"
    cut = f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="cut.wav"\r\n\r\nRIFF'
    res = requests.post(
        server.url + "/api/songs",
        data=cut.encode(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        timeout=10,
    )
    assert res.status_code == 422 and res.json()["error"]


def test_pages_and_docs(server, uploaded):
    index = server.get("/")
    assert index.status_code == 200 and index.headers["content-type"].startswith("text/html")
    sid = uploaded["bright.wav"]["id"]
    assert server.get(f"/songs/{sid}").status_code == 200
    missing = server.get("/songs/123456")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
    assert server.get("/songs/abc").status_code == 404
    spec = server.get("/openapi.json").json()
    assert {"/api/songs", "/api/songs/{song_id}", "/api/export.csv", "/healthz"} <= set(spec["paths"])
    docs = server.get("/docs")
    assert docs.status_code == 200 and "/api/songs" in docs.text and "cdn" not in docs.text.lower()


def test_delete_then_gone(server, songs):
    res = requests.post(server.url + "/api/songs", files=_files([("gone.wav", songs["xss"])]), timeout=30)
    sid = res.json()["songs"][0]["id"]  # the same audio as the XSS-named song: that song
    assert requests.delete(f"{server.url}/api/songs/{sid}", timeout=10).status_code == 204
    assert server.get(f"/api/songs/{sid}").status_code == 404
    assert server.get(f"/api/songs/{sid}/audio").status_code == 404
    assert requests.delete(f"{server.url}/api/songs/{sid}", timeout=10).status_code == 404


def test_other_sites_cannot_reach_in(server, songs, uploaded):
    """A page of another site may not upload or delete through the visitor's browser (Origin), and a name that
    rebinds to 127.0.0.1 gets nothing (Host)."""
    before = server.get("/api/songs").json()["total"]
    files = _files([("csrf.wav", songs["text"])])
    evil = requests.post(server.url + "/api/songs", files=files, headers={"Origin": "http://evil.example"}, timeout=10)
    assert evil.status_code == 403 and evil.json()["error"]
    sid = uploaded["minor.flac"]["id"]
    for origin in ("null", "http://evil.example"):
        res = requests.delete(f"{server.url}/api/songs/{sid}", headers={"Origin": origin}, timeout=10)
        assert res.status_code == 403
    assert server.get("/api/songs").json()["total"] == before
    rebound = server.get("/api/songs", headers={"Host": "evil.example:80"})
    assert rebound.status_code == 403 and rebound.json()["error"]
    port = server.url.rsplit(":", 1)[1]
    assert server.get("/api/songs", headers={"Host": f"localhost:{port}"}).status_code == 200
    own = requests.post(server.url + "/api/songs", files=files, headers={"Origin": server.url}, timeout=10)
    assert own.status_code == 202  # the studio's own page


def test_token_required_when_given(tmp_path, songs):
    from trackscope.serve.auth import is_loopback, resolve_token

    # the rule: any address but loopback needs a token (generated when none is given); a given one is always needed
    assert resolve_token("127.0.0.1", None) is None and resolve_token("localhost", None) is None
    assert resolve_token("::1", None) is None
    for host in ("0.0.0.0", "192.168.1.20", "::", "example.org"):
        assert not is_loopback(host) and len(resolve_token(host, None) or "") >= 20
    assert resolve_token("127.0.0.1", "T0ken") == "T0ken"

    token = "s3cret-token"
    srv = Server(tmp_path / "ws", tmp_path, "--token", token).start()
    try:
        assert srv.printed.endswith(f"/?token={token}")
        for path in ("/", "/api/songs", "/api/status", "/openapi.json", "/docs", "/api/songs/1/audio"):
            res = srv.get(path)
            assert res.status_code == 401 and res.json()["error"], path
            assert srv.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert (
            requests.post(srv.url + "/api/songs", files=_files([("a.wav", songs["xss"])]), timeout=10).status_code
            == 401
        )
        assert srv.get("/healthz").status_code == 200
        assert srv.get("/api/songs", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        page = srv.get("/", params={"token": token})
        assert page.status_code == 200
        cookie = page.headers["set-cookie"]
        assert "trackscope_token=" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert srv.get("/api/songs", cookies={"trackscope_token": token}).status_code == 200
        assert srv.get("/api/songs", cookies={"trackscope_token": "nope"}).status_code == 401
        assert token not in srv.stderr()
    finally:
        srv.stop()


def test_list_stays_fast_while_analysing_and_kill9_loses_nothing(server, tmp_path):
    """20 songs queued at once: GET /api/songs keeps answering fast while the worker analyses them; then the server
    is killed with SIGKILL mid-analysis and started again on the same workspace: every song finishes, the songs done
    before the kill are not analysed again, and the database is intact."""
    batch = []
    for i in range(20):
        batch.append(
            (f"batch-{i:02d}.wav", write(tmp_path / f"b{i}.wav", music_like(4.0, bpm=80 + 4 * i, seed=10 + i)))
        )
    res = requests.post(server.url + "/api/songs", files=_files(batch), timeout=30)
    assert res.status_code == 202
    ids = [s["id"] for s in res.json()["songs"]]

    latencies, done = [], []
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        t0 = time.perf_counter()
        listed = server.get("/api/songs", params={"limit": 500})
        latencies.append(time.perf_counter() - t0)
        rows = {s["id"]: s for s in listed.json()["songs"]}
        done = [i for i in ids if rows[i]["status"] == "done"]
        if len(done) >= 3 and len(latencies) >= 10:
            break
        time.sleep(0.05)
    median, worst = statistics.median(latencies), max(latencies)
    print(
        f"\nGET /api/songs while analysing: median {median * 1000:.1f} ms, max {worst * 1000:.1f} ms "
        f"over {len(latencies)} requests"
    )
    assert worst < 1.0
    before = {i: server.get(f"/api/songs/{i}").json()["analysed"] for i in done}
    server.kill9()
    pending = [i for i in ids if i not in done]
    assert pending, "every song finished before the kill: nothing was interrupted"

    server.start()  # the same workspace
    rows = _wait_settled(server, ids)
    assert all(rows[i]["status"] == "done" for i in ids), [(i, rows[i]["status"], rows[i]["error"]) for i in ids]
    for i in ids:
        assert len(server.get(f"/api/songs/{i}").json()["analyses"]) == 1
    assert {i: rows[i]["analysed"] for i in done} == before  # done before the kill: not analysed again
    with sqlite3.connect(server.workspace / "trackscope.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    killed = server.groups[-2]  # the killed server's process group: its workers saw it die and left
    deadline = time.monotonic() + 15
    while _group_alive(killed) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _group_alive(killed), "the killed server's worker processes are still running"


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


def test_upload_names_are_data():
    from trackscope.serve.uploads import clean_name

    assert clean_name("C:\\fakepath\\take 1.mp3") == "take 1.mp3"
    assert clean_name("../../etc/passwd") == "passwd"
    assert clean_name("say %22hi%22%0D%0A.wav") == 'say "hi"  .wav'  # the HTML form encoding undone
    assert clean_name("") == "unnamed" and clean_name("\x00\x1b") == "unnamed"
    long = clean_name("a" * 400 + ".flac")
    assert len(long) == 255 and long.endswith(".flac")


def test_a_busy_port_or_a_bad_model_is_one_line(tmp_path):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        cmd = [sys.executable, "-m", "trackscope", "serve", "--workspace", str(tmp_path / "ws"), "--port", str(port)]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and res.stderr.strip().count("\n") == 0, res.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in res.stderr
    res = subprocess.run([*cmd, "--mood-model", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and "Traceback" not in res.stderr and res.stderr.startswith("trackscope: error:")
