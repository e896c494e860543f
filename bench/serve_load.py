"""The studio under load (#12): a workspace of 2,000 analysed songs, the pages and the API timed, 20 uploads at once.

Usage (run by hand; everything synthetic, in a temporary folder, on 127.0.0.1)::

    .venv/bin/python bench/serve_load.py                    # 2,000 songs, 20 concurrent uploads, 1 worker
    .venv/bin/python bench/serve_load.py --songs 5000 --uploads 40 --workers 2

1. Builds a workspace through the Workspace API: each song a tiny unique WAV moved in with ``add_upload``, then
   ``claim`` + ``record`` of a synthetic analysis (mood probabilities, arousal/valence, tempo, key, loudness, six
   30-s windows, ten tags, a 1,000-point waveform and a small mel WebP), 2 % failed rows.
2. Starts ``trackscope serve`` on it (a subprocess, port 0) and times 20 requests of each page and API call after one
   warm-up: median, p95 and max (target: under 1 s).
3. Sends 20 uploads at once (one real 8-s synthetic song each, one thread each): all must answer 202 and be listed.
4. While those 20 are analysed by the worker processes, times ``GET /api/songs`` again (the issue: well under 200 ms
   while 20 songs are analysed on 2 cores), and how long the 20 took.
Prints one table; no pass/fail beyond saying which timings are over the target.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MOODS = {"Q1": "happy/energetic", "Q2": "aggressive/tense", "Q3": "sad/dark", "Q4": "calm/relaxing"}
KEYS = ["C major", "A minor", "G major", "E minor", "D major", "B minor", "F major", "D minor", "A# major", "F# minor"]
TAGS = ["rock", "pop", "electronic", "ambient", "dance", "guitar", "piano", "female vocalists", "chill", "indie"]
TARGET_S = 1.0


def _tiny_wav(path: Path, seed: int) -> None:
    import numpy as np
    import soundfile as sf

    y = np.random.default_rng(seed).normal(0, 0.1, 1_100).astype(np.float32)  # 0.05 s: unique bytes, cheap
    sf.write(str(path), y, 22_050, subtype="PCM_16", format="WAV")


def _mel_webp() -> bytes:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    img = (np.linspace(0, 255, 128)[:, None] * rng.uniform(0.3, 1.0, (1, 400))).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(img).convert("RGB").save(buf, format="WEBP", quality=60)
    return buf.getvalue()


def _row(i: int) -> dict[str, Any]:
    import numpy as np

    rng = np.random.default_rng(i)
    p = rng.dirichlet(np.ones(4) * 0.7)
    classes = list(MOODS)
    best = classes[int(np.argmax(p))]
    av = {"Q1": (1, 1), "Q2": (1, -1), "Q3": (-1, -1), "Q4": (-1, 1)}
    arousal = float(sum(pi * av[c][0] for c, pi in zip(classes, p, strict=True)))
    valence = float(sum(pi * av[c][1] for c, pi in zip(classes, p, strict=True)))
    novelty = float(rng.uniform(0, 1))
    windows = []
    for w in range(6):
        q = rng.dirichlet(np.ones(4))
        wb = classes[int(np.argmax(q))]
        windows.append(
            {
                "start": 30.0 * w,
                "duration": 30.0,
                "mood": wb,
                "mood_words": MOODS[wb],
                "confidence": float(q.max()),
                "arousal": float(q[0] + q[1] - q[2] - q[3]),
                "valence": float(q[0] + q[3] - q[1] - q[2]),
                "novelty": novelty,
                "unusual": novelty > 0.9,
                **{f"p_{c}": float(v) for c, v in zip(classes, q, strict=True)},
            }
        )
    scores = sorted(rng.uniform(0, 0.5, len(TAGS)).tolist(), reverse=True)
    return {
        "name": f"song {i}",
        "duration": float(rng.uniform(120, 300)),
        "mood": best,
        "mood_words": MOODS[best],
        "confidence": float(p.max()),
        "arousal": arousal,
        "valence": valence,
        **{f"p_{c}": float(v) for c, v in zip(classes, p, strict=True)},
        "novelty": novelty,
        "unusual": novelty > 0.9,
        "tempo": float(rng.uniform(60, 180)),
        "key": KEYS[i % len(KEYS)],
        "loudness_lufs": float(rng.uniform(-20, -6)),
        "top_tags": [{"tag": t, "score": sc} for t, sc in zip(TAGS, scores, strict=True)],
        "windows": windows,
    }


def _waveform(i: int) -> dict[str, Any]:
    import numpy as np

    env = np.abs(np.sin(np.linspace(0, 6 + i % 7, 1000))) * 0.9 + 0.05
    return {"points": 1000, "lo": np.round(-env, 3).tolist(), "hi": np.round(env, 3).tolist()}


def build_workspace(folder: Path, n: int) -> float:
    """``n`` songs in a fresh workspace at ``folder``: 98 % analysed, 2 % failed. Returns the seconds it took."""
    from trackscope.workspace import Workspace

    t0 = time.perf_counter()
    mel = _mel_webp()
    with Workspace(folder) as ws:
        for i in range(n):
            if i % 50 == 49:
                ws.add_failed(f"broken {i:04d}.mp3", "not an audio file: it holds text", size=1200)
                continue
            tmp = ws.temp_path(".wav")
            _tiny_wav(tmp, i)
            mood = _row(i)["mood_words"].split("/")[0]
            ws.add_upload(tmp, f"Demo {i:04d} – {mood} take.wav")
        claimed = ws.claim(n)
        for song_id, _path in claimed:
            ws.record(
                song_id,
                _row(song_id),
                mood_model="builtin:mood",
                media={"waveform": _waveform(song_id), "mel_webp": mel},
            )
    return time.perf_counter() - t0


class Server:
    def __init__(self, workspace: Path, logs: Path, workers: int) -> None:
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        self.out, self.err = logs / "stdout.txt", logs / "stderr.txt"
        cmd = [sys.executable, "-m", "trackscope", "serve", "--workspace", str(workspace), "--port", "0"]
        with open(self.out, "wb") as fout, open(self.err, "wb") as ferr:
            self.proc = subprocess.Popen(
                [*cmd, "--workers", str(workers)], stdout=fout, stderr=ferr, env=env, start_new_session=True
            )
        import requests

        deadline = time.monotonic() + 60
        self.url = ""
        while time.monotonic() < deadline and not self.url:
            found = re.search(r"http://127\.0\.0\.1:\d+", self.out.read_text())
            if found:
                self.url = found.group(0)
            elif self.proc.poll() is not None:
                raise SystemExit(f"the server exited: {self.err.read_text()[-2000:]}")
            time.sleep(0.05)
        while time.monotonic() < deadline:
            try:
                requests.get(self.url + "/healthz", timeout=2)
                return
            except requests.ConnectionError:
                time.sleep(0.05)
        raise SystemExit("the server never answered")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # anything it left behind


def _stats(times: list[float]) -> tuple[float, float, float]:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return statistics.median(ordered), p95, ordered[-1]


def time_requests(session: Any, url: str, n: int = 20) -> tuple[float, float, float, int, int]:
    session.get(url, timeout=60)  # warm-up
    times, size, status = [], 0, 0
    for _ in range(n):
        t0 = time.perf_counter()
        res = session.get(url, timeout=60)
        times.append(time.perf_counter() - t0)
        size, status = len(res.content), res.status_code
    return (*_stats(times), size, status)


def concurrent_uploads(url: str, folder: Path, n: int) -> tuple[list[int], list[float], list[int]]:
    import requests

    from trackscope.sources.example_audio import STYLES, style_clip, write_wav

    styles = list(STYLES)
    paths = [write_wav(folder / f"upload-{k:02d}.wav", style_clip(styles[k % 4], 8.0, seed=100 + k)) for k in range(n)]
    codes: list[int] = [0] * n
    took: list[float] = [0.0] * n
    ids: list[int] = [0] * n
    barrier = threading.Barrier(n)

    def send(k: int) -> None:
        data = paths[k].read_bytes()
        barrier.wait()
        t0 = time.perf_counter()
        res = requests.post(url + "/api/songs", files=[("files", (paths[k].name, data, "audio/wav"))], timeout=120)
        took[k] = time.perf_counter() - t0
        codes[k] = res.status_code
        if res.status_code == 202:
            ids[k] = res.json()["songs"][0]["id"]

    threads = [threading.Thread(target=send, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return codes, took, ids


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--songs", type=int, default=2000, help="analysed songs in the workspace")
    ap.add_argument("--uploads", type=int, default=20, help="concurrent uploads")
    ap.add_argument("--workers", type=int, default=1, help="the server's analysis worker processes")
    ap.add_argument("--keep", type=Path, default=None, help="build the workspace here and keep it")
    args = ap.parse_args()
    import requests

    tmp = Path(tempfile.mkdtemp(prefix="serve-load-"))
    folder = args.keep or tmp / "workspace"
    built = build_workspace(folder, args.songs)
    size_mb = (folder / "trackscope.sqlite").stat().st_size / 1e6
    print(f"workspace: {args.songs} songs built in {built:.1f} s, database {size_mb:.0f} MB ({folder})")
    server = Server(folder, tmp, args.workers)
    rows: list[tuple[str, str, str, str, str, str]] = []
    try:
        s = requests.Session()
        listed = s.get(server.url + "/api/songs", params={"limit": 1}).json()
        some_id = listed["songs"][0]["id"]
        calls = [
            ("GET / (the songs page)", "/"),
            ("GET /songs/{id} (a song page)", f"/songs/{some_id}"),
            ("GET /api/songs (default: 500)", "/api/songs"),
            ("GET /api/songs?limit=5000 (all)", "/api/songs?limit=5000"),
            ("GET /api/songs sorted by valence, desc, 100", "/api/songs?sort=valence&order=desc&limit=100"),
            ("GET /api/songs mood=Q1 sorted by tempo", "/api/songs?mood=Q1&sort=tempo"),
            ("GET /api/songs q=calm unusual", "/api/songs?q=calm&unusual=true"),
            ("GET /api/songs by name, offset 1900", "/api/songs?sort=name&offset=1900&limit=100"),
            ("GET /api/songs/{id} (detail)", f"/api/songs/{some_id}"),
            ("GET /api/status", "/api/status"),
            ("GET /api/export.csv", "/api/export.csv"),
        ]
        for label, path in calls:
            median, p95, worst, size, status = time_requests(s, server.url + path)
            rows.append((label, f"{median * 1000:.1f}", f"{p95 * 1000:.1f}", f"{worst * 1000:.1f}", f"{size / 1e3:.0f}",
                         str(status) + ("" if worst < TARGET_S else "  OVER 1 s")))  # fmt: skip

        t0 = time.perf_counter()
        codes, took, ids = concurrent_uploads(server.url, tmp, args.uploads)
        landed = s.get(server.url + "/api/songs", params={"q": "upload-", "limit": 5000}).json()
        found = {x["id"] for x in landed["songs"]}
        ok = all(c == 202 for c in codes) and set(ids) <= found and len(set(ids)) == args.uploads
        print(
            f"{args.uploads} concurrent uploads: {sum(c == 202 for c in codes)} answered 202 "
            f"(slowest {max(took) * 1000:.0f} ms), {len(found & set(ids))} listed — {'all landed' if ok else 'LOST'}"
        )

        busy: list[float] = []
        small: list[float] = []
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            t1 = time.perf_counter()
            s.get(server.url + "/api/songs", timeout=60)
            busy.append(time.perf_counter() - t1)
            t1 = time.perf_counter()
            page = s.get(server.url + "/api/songs", params={"q": "upload-", "limit": 50}, timeout=60).json()
            small.append(time.perf_counter() - t1)
            if all(x["status"] in ("done", "failed") for x in page["songs"]):
                break
            time.sleep(0.1)
        analysed = time.perf_counter() - t0
        for label, times in (("GET /api/songs (500) while analysing", busy),
                             ("GET /api/songs (50) while analysing", small)):  # fmt: skip
            median, p95, worst = _stats(times)
            rows.append((label, f"{median * 1000:.1f}", f"{p95 * 1000:.1f}", f"{worst * 1000:.1f}", "",
                         f"{len(times)} requests" + ("" if worst < TARGET_S else "  OVER 1 s")))  # fmt: skip
        print(f"the {args.uploads} uploads analysed in {analysed:.1f} s with {args.workers} worker(s)")
    finally:
        server.stop()

    widths = [max(len(r[i]) for r in [*rows, ("request", "median ms", "p95 ms", "max ms", "KB", "")]) for i in range(6)]
    head = ("request", "median ms", "p95 ms", "max ms", "KB", "")
    print()
    for r in (head, *rows):
        cells = [c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))]
        print("| " + " | ".join(cells) + " |")
    print(json.dumps({"cpu_count": os.cpu_count(), "songs": args.songs, "workers": args.workers}))


if __name__ == "__main__":
    main()
