"""The studio in a real browser: headless Chromium (Debian's ``chromium`` and ``chromium-driver``) driven by selenium
against ``python -m trackscope serve`` on 127.0.0.1 — upload three synthetic songs and a text file named .mp3 through
the page's file input, watch their rows reach done/failed, read the moods and the map, open a song page (waveform,
spectrogram, mood timeline, player and its playhead), filter and sort, delete a song. A song named like an HTML tag
must show as text. Screenshots go to the test's temp folder. Skipped, with the reason, where chromium is missing."""

from __future__ import annotations

import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import requests

from audio_synth import SR, a_minor_progression, click_track, music_like, noise, write

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
XSS = "<img src=x onerror=alert(1)>.mp3"
WORDS = {"happy/energetic", "aggressive/tense", "sad/dark", "calm/relaxing"}
TIMEOUT = 90.0

if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
    pytest.skip(
        "chromium/chromedriver not installed: apt-get install chromium chromium-driver", allow_module_level=True
    )
pytest.importorskip("selenium", reason="selenium not installed (a dev dependency): make venv")

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import NoAlertPresentException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402


def wait_for(check, timeout: float = TIMEOUT, every: float = 0.2, what: str = "the page"):
    """Poll ``check()`` until it returns something truthy; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def rows(driver) -> list[dict]:
    """The table's rows in one script call (rows are rebuilt as statuses change: no stale element handles)."""
    return driver.execute_script(
        """return [...document.querySelectorAll('[data-testid=song-row]')].map(r => ({
            id: Number(r.dataset.songId), status: r.dataset.status,
            name: r.querySelector('[data-testid=song-name]').textContent,
            mood: r.querySelector('[data-testid=song-mood]').textContent,
            error: (r.querySelector('[data-testid=song-error]') || {}).textContent || null,
            imgs: r.querySelectorAll('img').length}))"""
    )


@pytest.fixture(scope="module")
def songs(tmp_path_factory) -> dict[str, Path]:
    """Three 9–11-s songs of different characters and a text file named .mp3."""
    folder = tmp_path_factory.mktemp("songs")
    minor = a_minor_progression(repeats=3)[: 11 * SR]
    return {
        "bright": write(folder / "Sunny Side Up.wav", music_like(10.0, bpm=128)),
        "dark": write(folder / "Rainy Lullaby (demo 2).flac", minor + noise(11.0, amp=0.004)[: len(minor)]),
        "xss": write(
            folder / XSS, (0.6 * click_track(170, 9.0) + noise(9.0, amp=0.2)).astype(np.float32), format="MP3"
        ),
        "bad": _text(folder / "not really a song.mp3"),
    }


def _text(path: Path) -> Path:
    path.write_text("these are words, not sound\n" * 40)
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``python -m trackscope serve`` on 127.0.0.1 (port 0: it prints the URL it got), one worker."""
    root = tmp_path_factory.mktemp("studio")
    out, err = root / "stdout.txt", root / "stderr.txt"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "trackscope", "serve", "--workspace", str(root / "ws"), "--port", "0"]
    with open(out, "wb") as fout, open(err, "wb") as ferr:
        proc = subprocess.Popen([*cmd, "--workers", "1"], stdout=fout, stderr=ferr, env=env, start_new_session=True)
    try:
        found = wait_for(lambda: re.search(r"http://127\.0\.0\.1:\d+", out.read_text()) or proc.poll() is not None,
                         30, 0.05, "the server's URL")  # fmt: skip
        if proc.poll() is not None:
            pytest.fail(f"the server exited ({proc.returncode}): {err.read_text()[-2000:]}")
        url = found.group(0)
        wait_for(lambda: _healthy(url), 30, 0.05, "/healthz")
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def _healthy(url: str) -> bool:
    try:
        return requests.get(url + "/healthz", timeout=2).json() == {"ok": True}
    except requests.RequestException:
        return False


@pytest.fixture(scope="module")
def driver():
    offline = os.environ.get("SE_OFFLINE")
    os.environ["SE_OFFLINE"] = "true"  # selenium-manager must not go looking for drivers online
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000",
                "--autoplay-policy=no-user-gesture-required", "--mute-audio"):  # fmt: skip
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    d = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    d.set_page_load_timeout(30)
    try:
        yield d
    finally:
        d.quit()
        if offline is None:
            os.environ.pop("SE_OFFLINE", None)
        else:
            os.environ["SE_OFFLINE"] = offline


def assert_no_alert(driver) -> None:
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.text  # noqa: B018 — reading it is the check


def script_errors(driver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE" and "favicon" not in e["message"]]


@pytest.fixture(scope="module")
def uploaded(server, driver, songs, tmp_path_factory):
    """The four files uploaded through the file input, every row finished (done or failed)."""
    driver.get(server + "/")
    assert driver.find_element(By.CSS_SELECTOR, "[data-testid=drop-zone]").is_displayed()
    box = driver.find_element(By.CSS_SELECTOR, "[data-testid=upload-input]")
    assert box.get_attribute("multiple") is not None
    box.send_keys("\n".join(str(p) for p in songs.values()))
    shots = tmp_path_factory.mktemp("screenshots")
    wait_for(lambda: len(driver.find_elements(By.CSS_SELECTOR, "[data-testid=upload]")) == 4, 10, 0.05, "4 uploads")
    driver.save_screenshot(str(shots / "uploading.png"))
    final = wait_for(
        lambda: (r := rows(driver)) and len(r) == 4 and all(x["status"] in ("done", "failed") for x in r) and r,
        what="four rows done or failed",
    )
    driver.save_screenshot(str(shots / "index.png"))
    return {"rows": {x["name"]: x for x in final}, "shots": shots}


def test_upload_rows_moods_and_map(server, driver, songs, uploaded):
    by_name = uploaded["rows"]
    assert set(by_name) == {p.name for p in songs.values()}
    for key in ("bright", "dark", "xss"):
        row = by_name[songs[key].name]
        assert row["status"] == "done", row
        assert row["mood"] in WORDS, row
    bad = by_name[songs["bad"].name]
    assert bad["status"] == "failed"
    assert bad["error"] and len(bad["error"].strip()) > 5  # the one-line reason, shown in its row
    # the name that looks like a tag is text: exact text, no element made of it, no script ran
    assert by_name[XSS]["name"] == XSS and by_name[XSS]["imgs"] == 0
    assert_no_alert(driver)
    # one point per analysed song on the map, named by song id
    done_ids = {r["id"] for r in by_name.values() if r["status"] == "done"}
    points = driver.find_elements(By.CSS_SELECTOR, "[data-testid=va-map] [data-testid=va-point]")
    assert {int(p.get_attribute("data-song-id")) for p in points} == done_ids
    # names on the map never overlap each other or another song's dot
    boxes = driver.execute_script(
        """const box = (e) => { const b = e.getBoundingClientRect(); return [b.left, b.top, b.right, b.bottom]; };
        return {labels: [...document.querySelectorAll('#va-map .point-label')].map(t => [t.dataset.songId, box(t)]),
                dots: [...document.querySelectorAll('#va-map [data-testid=va-point] .dot')]
                    .map(c => [c.parentNode.dataset.songId, box(c)])};"""
    )
    assert boxes["labels"]  # three songs leave room for names

    def overlap(a, b):
        return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]

    for i, (sid, label) in enumerate(boxes["labels"]):
        assert not any(overlap(label, other) for _, other in boxes["labels"][i + 1 :])
        assert not any(overlap(label, dot) for did, dot in boxes["dots"] if did != sid)
    # the table shows what the API says, as people read it
    api = {s["id"]: s for s in requests.get(server + "/api/songs", timeout=5).json()["songs"]}
    for r in by_name.values():
        if r["status"] == "done":
            assert r["mood"] == api[r["id"]]["mood"]
    text = driver.find_element(By.CSS_SELECTOR, f"[data-testid=song-row][data-song-id='{by_name[XSS]['id']}']").text
    song = api[by_name[XSS]["id"]]
    seconds = math.floor(song["duration"] + 0.5)  # rounded half up, as the page does
    assert f"{seconds // 60}:{seconds % 60:02d}" in text  # m:ss
    assert song["key"] in text and str(math.floor(song["tempo"] + 0.5)) in text
    assert not script_errors(driver)


def test_filter_and_sort(driver, songs, uploaded):
    box = driver.find_element(By.CSS_SELECTOR, "[data-testid=filter]")
    box.send_keys("rainy")
    wait_for(lambda: [r["name"] for r in rows(driver)] == [songs["dark"].name], 5, 0.05, "the filter")
    box.clear()
    box.send_keys(" ")  # clear() fires no input event; a space is trimmed away
    wait_for(lambda: len(rows(driver)) == 4, 5, 0.05, "the filter cleared")
    driver.find_element(By.CSS_SELECTOR, "[data-testid=sort-name]").click()
    names = [r["name"] for r in rows(driver)]
    assert names == sorted(names, key=str.casefold)
    driver.find_element(By.CSS_SELECTOR, "[data-testid=sort-name]").click()
    assert [r["name"] for r in rows(driver)] == names[::-1]
    moods = {r["mood"] for r in rows(driver) if r["status"] == "done"}
    select = driver.find_element(By.CSS_SELECTOR, "[data-testid=mood-filter]")
    value = driver.execute_script(
        "return [...arguments[0].options].find(o => o.textContent.trim() === arguments[1]).value", select, min(moods)
    )
    driver.execute_script("arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('change'))",
                          select, value)  # fmt: skip
    assert {r["mood"] for r in rows(driver)} == {min(moods)}
    driver.execute_script("arguments[0].value = ''; arguments[0].dispatchEvent(new Event('change'))", select)
    assert len(rows(driver)) == 4
    export = driver.find_element(By.CSS_SELECTOR, "[data-testid=export-csv]")
    assert export.get_attribute("href").endswith("/api/export.csv")


def test_song_page_lanes_player_and_playhead(server, driver, songs, uploaded):
    song_id = uploaded["rows"][XSS]["id"]
    driver.get(f"{server}/songs/{song_id}")
    title = driver.find_element(By.CSS_SELECTOR, "[data-testid=song-title]")
    wait_for(lambda: title.text == XSS, 10, 0.05, "the song's title")
    assert_no_alert(driver)
    css = driver.find_element
    assert css(By.CSS_SELECTOR, "[data-testid=waveform] path").get_attribute("d").startswith("M")
    mel = css(By.CSS_SELECTOR, "[data-testid=mel]")
    wait_for(lambda: driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth", mel), 10,
             0.05, "the spectrogram image")  # fmt: skip
    segments = driver.find_elements(By.CSS_SELECTOR, "[data-testid=mood-timeline] [data-testid=timeline-segment]")
    assert segments
    assert css(By.CSS_SELECTOR, "[data-testid=why]").text.strip()
    assert css(By.CSS_SELECTOR, "[data-testid=tags]").find_elements(By.TAG_NAME, "li")
    for what, suffix in (("download-json", ".json"), ("download-csv", ".csv")):
        href = css(By.CSS_SELECTOR, f"[data-testid={what}]").get_attribute("href")
        assert href.endswith(f"/api/songs/{song_id}{suffix}")
    player = css(By.CSS_SELECTOR, "[data-testid=player]")
    assert player.tag_name == "audio"
    wait_for(lambda: driver.execute_script("return arguments[0].readyState >= 1", player), 10, 0.05, "the audio")
    lanes = css(By.ID, "lanes")

    def head() -> float:  # the playhead's place, 0..1 along the lanes
        return float(driver.execute_script("return getComputedStyle(arguments[0]).getPropertyValue('--f') || 0", lanes))

    assert head() == 0.0
    driver.execute_script("arguments[0].play()", player)
    wait_for(lambda: head() > 0.0, 10, 0.05, "the playhead to move while playing")
    driver.execute_script("arguments[0].pause()", player)
    # a click on the mood timeline seeks there (three quarters in)
    timeline = css(By.CSS_SELECTOR, "[data-testid=mood-timeline]")
    width = timeline.size["width"]
    ActionChains(driver).move_to_element_with_offset(timeline, int(width * 0.25), 0).click().perform()
    wait_for(lambda: abs(head() - 0.75) < 0.03, 5, 0.05, "the playhead at the clicked place")
    position = driver.execute_script("return arguments[0].currentTime / arguments[0].duration", player)
    assert abs(position - 0.75) < 0.03
    playhead = css(By.CSS_SELECTOR, "[data-testid=playhead]")
    assert abs(playhead.location["x"] - (timeline.location["x"] + 0.75 * width)) < 0.03 * width
    driver.save_screenshot(str(uploaded["shots"] / "song.png"))
    assert not script_errors(driver)


def test_delete_song(server, driver, songs, uploaded):
    victim = uploaded["rows"][songs["dark"].name]["id"]
    driver.get(server + "/")
    wait_for(lambda: len(rows(driver)) == 4, 10, 0.05, "the rows")
    n_points = len(driver.find_elements(By.CSS_SELECTOR, "[data-testid=va-point]"))
    row = driver.find_element(By.CSS_SELECTOR, f"[data-testid=song-row][data-song-id='{victim}']")
    row.find_element(By.CSS_SELECTOR, "[data-testid=song-delete]").click()
    confirm = driver.find_element(By.CSS_SELECTOR, "[data-testid=confirm-delete]")
    wait_for(confirm.is_displayed, 5, 0.05, "the delete dialog")
    confirm.click()
    wait_for(lambda: victim not in {r["id"] for r in rows(driver)}, 10, 0.05, "the deleted row to go")
    assert len(driver.find_elements(By.CSS_SELECTOR, "[data-testid=va-point]")) == n_points - 1
    assert requests.get(f"{server}/api/songs/{victim}", timeout=5).status_code == 404
    driver.save_screenshot(str(uploaded["shots"] / "deleted.png"))
    assert_no_alert(driver)


def test_api_error_shown_as_a_line(server, driver, uploaded):
    """A song deleted elsewhere while its page is open: deleting it there shows the API's one-line error."""
    song_id = uploaded["rows"][XSS]["id"]
    driver.get(f"{server}/songs/{song_id}")
    wait_for(lambda: driver.find_element(By.CSS_SELECTOR, "[data-testid=song-title]").text == XSS, 10, 0.05, "the page")
    player = driver.find_element(By.CSS_SELECTOR, "[data-testid=player]")  # loaded first: its file is about to go
    wait_for(lambda: driver.execute_script("return arguments[0].readyState >= 1", player), 10, 0.05, "the audio")
    assert requests.delete(f"{server}/api/songs/{song_id}", timeout=5).status_code == 204
    expected = requests.delete(f"{server}/api/songs/{song_id}", timeout=5).json()["error"]
    driver.find_element(By.CSS_SELECTOR, "[data-testid=song-delete]").click()
    driver.find_element(By.CSS_SELECTOR, "[data-testid=confirm-delete]").click()
    error = driver.find_element(By.CSS_SELECTOR, "[data-testid=error]")
    wait_for(error.is_displayed, 5, 0.05, "the error line")
    assert error.text == expected
    assert "Traceback" not in driver.page_source


def test_drop_zone_takes_dropped_files(server, driver, uploaded):
    """Files dropped on the page upload like picked ones (a made-up file: it fails at once, with its reason)."""
    driver.get(server + "/")
    wait_for(lambda: rows(driver), 10, 0.05, "the rows")
    driver.execute_script(
        """const data = new DataTransfer();
        data.items.add(new File(["plain words, no sound"], "dropped <b>note.mp3", {type: "audio/mpeg"}));
        const zone = document.querySelector('[data-testid=drop-zone]');
        for (const type of ['dragenter', 'dragover', 'drop'])
            zone.dispatchEvent(new DragEvent(type, {dataTransfer: data, bubbles: true, cancelable: true}));"""
    )
    row = wait_for(
        lambda: [r for r in rows(driver) if r["name"] == "dropped <b>note.mp3" and r["status"] == "failed"],
        20,
        0.1,
        "the dropped file's row",
    )[0]
    assert row["error"]
    assert_no_alert(driver)
