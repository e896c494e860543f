"""The README's picture of the studio (docs/studio.png): a fresh workspace, ~8 songs uploaded and analysed, the songs
page in headless Chromium at 1400 × 900 (and, with --song-out, one song's page).

Usage (run by hand; needs Debian's chromium and chromium-driver)::

    ../shared/scripts/get-music-bank.sh /tmp/music-bank                 # freely licensed music (GPL, CC-BY, PD)
    .venv/bin/python bench/studio_screenshot.py --music /tmp/music-bank  # docs/studio.png, as in the README
    .venv/bin/python bench/studio_screenshot.py --song-out /tmp/song.png # two clips per quadrant of the 4Q set

Songs: with ``--music DIR``, ``--n`` freely licensed tracks from it (the README's picture: its names may be shown);
else two clips per quadrant of the 4Q set in ``../shared/data/audio/4q-dev`` (research use: read only, never copied
into the project, and its picture not for the README), or synthetic songs from tests/audio_synth.py where that folder
is missing. Everything runs on 127.0.0.1 in a temporary folder.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "audio" / "4q-dev"


def pick_clips(folder: Path, per_quadrant: int, out: Path) -> list[Path]:
    """``per_quadrant`` clips of each quadrant with high tag agreement and short names, copied to ``out`` as
    "artist – title.mp3" (a musician's file names, not dataset ids)."""
    with open(folder / "labels.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if float(r["agreement"]) >= 0.9]
    picked: list[Path] = []
    for q in ("Q1", "Q2", "Q3", "Q4"):
        mine = [r for r in rows if r["quadrant"] == q and len(r["artist"]) + len(r["title"]) < 34]
        for r in mine[:per_quadrant]:
            name = re.sub(r"[/\\:]", "-", f"{r['artist']} – {r['title']}.mp3")
            shutil.copyfile(folder / q / f"{r['song_id']}.mp3", out / name)
            picked.append(out / name)
    return picked


def bank_songs(folder: Path, n: int, out: Path) -> list[Path]:
    """``n`` tracks of a music bank, spread over its packages, named "Package – track.ogg"."""
    packages = sorted(d for d in folder.iterdir() if d.is_dir())
    pools = [sorted(p for p in d.iterdir() if p.suffix in (".ogg", ".opus", ".mp3", ".flac")) for d in packages]
    picked: list[Path] = []
    while len(picked) < n and any(pools):
        for d, pool in zip(packages, pools, strict=True):
            if pool and len(picked) < n:
                src = pool.pop(0)
                title = d.name.replace("-music", "").replace("-songs", "").replace("-", " ").title()
                picked.append(out / f"{title} – {src.stem.replace('_', ' ')}{src.suffix}")
                shutil.copyfile(src, picked[-1])
    return picked


def synthetic_songs(out: Path) -> list[Path]:
    sys.path.insert(0, str(ROOT / "tests"))
    import numpy as np

    from audio_synth import SR, a_minor_progression, click_track, music_like, noise, write

    minor = a_minor_progression(repeats=4)[: 14 * SR]
    return [
        write(out / "Sunny Side Up.wav", music_like(14.0, bpm=124)),
        write(out / "Rainy Lullaby (demo 2).flac", minor + noise(14.0, amp=0.004)[: len(minor)]),
        write(out / "Night Drive.wav", music_like(12.0, bpm=96, seed=3)),
        write(out / "Breakdown.mp3", (0.6 * click_track(170, 12.0) + noise(12.0, amp=0.2)).astype(np.float32)),
    ]


def start_server(workspace: Path, logs: Path) -> tuple[subprocess.Popen, str]:
    out = logs / "stdout.txt"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "trackscope", "serve", "--workspace", str(workspace), "--port", "0"]
    with open(out, "wb") as fout, open(logs / "stderr.txt", "wb") as ferr:
        proc = subprocess.Popen(cmd, stdout=fout, stderr=ferr, env=env, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = re.search(r"http://127\.0\.0\.1:\d+", out.read_text())
        if found:
            return proc, found.group(0)
        if proc.poll() is not None:
            raise SystemExit(f"the server exited: {(logs / 'stderr.txt').read_text()[-2000:]}")
        time.sleep(0.1)
    raise SystemExit("the server printed no URL")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA, help="the 4Q clips (labels.csv, Q1..Q4/)")
    parser.add_argument("--per-quadrant", type=int, default=2)
    parser.add_argument("--music", type=Path, default=None, help="a music bank folder (get-music-bank.sh)")
    parser.add_argument("--n", type=int, default=8, help="tracks taken from --music")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "studio.png")
    parser.add_argument("--song-out", type=Path, default=None, help="also a song page's picture here")
    args = parser.parse_args()

    import requests

    os.environ["SE_OFFLINE"] = "true"
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    with tempfile.TemporaryDirectory(prefix="studio-shot-") as tmp:
        tmp_path = Path(tmp)
        songs = tmp_path / "songs"
        songs.mkdir()
        if args.music is not None:
            files = bank_songs(args.music, args.n, songs)
        else:
            files = (
                pick_clips(args.data, args.per_quadrant, songs) if (args.data / "labels.csv").exists() else []
            ) or synthetic_songs(songs)
        proc, url = start_server(tmp_path / "ws", tmp_path)
        try:
            t0 = time.monotonic()
            while True:
                try:
                    if requests.get(url + "/healthz", timeout=2).ok:
                        break
                except requests.ConnectionError:
                    time.sleep(0.1)
            for path in files:  # one request per file, in order: ids follow the list
                with open(path, "rb") as f:
                    requests.post(url + "/api/songs", files={"files": (path.name, f)}, timeout=60).raise_for_status()
            while True:
                listed = requests.get(url + "/api/songs", timeout=10).json()["songs"]
                if all(s["status"] in ("done", "failed") for s in listed):
                    break
                time.sleep(0.5)
            print(f"{len(listed)} songs analysed in {time.monotonic() - t0:.1f} s")

            options = webdriver.ChromeOptions()
            options.binary_location = "/usr/bin/chromium"
            for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--hide-scrollbars"):
                options.add_argument(arg)
            driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
            try:
                driver.execute_cdp_cmd(
                    "Emulation.setDeviceMetricsOverride",
                    {"width": 1400, "height": 900, "deviceScaleFactor": 1, "mobile": False},
                )
                driver.get(url + "/")
                done = sum(s["status"] == "done" for s in listed)
                deadline = time.monotonic() + 20
                while len(driver.find_elements(By.CSS_SELECTOR, "[data-testid=va-point]")) < done:
                    if time.monotonic() > deadline:
                        raise SystemExit("the map never showed every song")
                    time.sleep(0.1)
                time.sleep(0.5)
                args.out.parent.mkdir(parents=True, exist_ok=True)
                driver.save_screenshot(str(args.out))
                print(f"wrote {args.out}")
                if args.song_out:
                    best = max((s for s in listed if s["status"] == "done"), key=lambda s: s["duration"] or 0)
                    driver.get(f"{url}/songs/{best['id']}")
                    time.sleep(1.5)
                    driver.execute_script(
                        "const p = document.getElementById('player'); p.currentTime = p.duration * 0.42 || 12"
                    )
                    time.sleep(0.5)
                    driver.save_screenshot(str(args.song_out))
                    print(f"wrote {args.song_out}")
            finally:
                driver.quit()
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(20)


if __name__ == "__main__":
    main()
