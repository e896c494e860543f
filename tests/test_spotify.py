"""The Spotify collector against a real HTTP server on 127.0.0.1 (tests/fake_spotify.py), faults included."""

from __future__ import annotations

import base64
import json
import logging
import os
import random
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from fake_spotify import FakeSpotify, make_track
from trackscope.constants import SPOTIFY_FEATURES
from trackscope.errors import CollectError
from trackscope.sources import spotify
from trackscope.sources.spotify_checkpoint import partial_dir
from trackscope.sources.spotify_client import RetryPolicy, SpotifyClient

SECRET = "Zq9-SECRET-do-not-leak-7f3b"
PL_A, PL_B, PL_C = "37i9dQZF1DX3rxVfibe1L0", "1h0CEZCm6IbFTbxThn6Xcs", "5KbTzqKBqxQRD8OBtJTZrS"
COLUMNS = [
    "id",
    "name",
    "artists",
    "album",
    "release_date",
    "duration_ms",
    "popularity",
    "explicit",
    "preview_url",
    *[f for f in SPOTIFY_FEATURES if f != "duration_ms"],
    "key",
    "mode",
    "time_signature",
]


class Sleeps(list):
    """An injectable sleep that records instead of sleeping (keeps the tests fast)."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def tracks(n: int, seed: int, **kw) -> list[dict]:
    rng = random.Random(seed)
    return [make_track(rng, **kw) for _ in range(n)]


@pytest.fixture
def catalogue():
    """Playlists A (120 tracks: 3 pages), B (30) and C (20); one track in A and B (two labels), one in A and C."""
    a, b, c = tracks(120, 1), tracks(30, 2), tracks(20, 3)
    b[5] = a[10]  # A is Happy, B is Dark: a conflict
    c[3] = a[20]  # A and C are both Happy: a duplicate
    return {PL_A: a, PL_B: b, PL_C: c}


@pytest.fixture
def server(catalogue):
    with FakeSpotify(client_id="cid-123", secret=SECRET, playlists=catalogue) as fake:
        yield fake


def client_for(fake: FakeSpotify, sleeps: Sleeps | None = None, timeout: float = 2.0, attempts: int = 6):
    return SpotifyClient(
        fake.client_id,
        fake.secret,
        api_url=fake.url,
        accounts_url=fake.url,
        timeout=timeout,
        retry=RetryPolicy(max_attempts=attempts, sleep=sleeps if sleeps is not None else Sleeps()),
    )


def collect_abc(fake, tmp_path, out_name="moods.csv", **kw):
    mapping = tmp_path / "map.csv"
    mapping.write_text(
        f"playlist,label\nspotify:playlist:{PL_B},Dark\nhttps://open.spotify.com/playlist/{PL_C}?si=x,Happy\n"
    )
    kw.setdefault("client", client_for(fake))
    return spotify.collect_playlists(
        [f"https://open.spotify.com/playlist/{PL_A}"], label="Happy", from_csv=mapping, out=tmp_path / out_name, **kw
    )


# -- the normal path -----------------------------------------------------------------------------------------------
def test_full_playlist_collection(server, catalogue, tmp_path):
    prev = tmp_path / "previews"
    summary = collect_abc(server, tmp_path, previews=prev)
    table = pd.read_csv(tmp_path / "moods.csv")
    assert list(table.columns) == [*COLUMNS, "mood"]
    expected_ids = {t["id"] for ts in catalogue.values() for t in ts} - {catalogue[PL_A][10]["id"]}
    assert set(table["id"]) == expected_ids and table["id"].is_unique
    assert len(table) == summary["tracks"] == 120 + 30 + 20 - 2 - 1
    assert summary["duplicates_dropped"] == 1  # the Happy/Happy track (the conflict is counted apart)
    assert summary["conflicts_dropped"] == 1
    assert summary["conflicts"][0]["id"] == catalogue[PL_A][10]["id"]
    assert summary["conflicts"][0]["labels"] == {"Happy": [PL_A], "Dark": [PL_B]}
    labels = dict(zip(table["id"], table["mood"], strict=True))
    assert {labels[t["id"]] for t in catalogue[PL_B] if t["id"] in labels} == {"Dark"}
    assert labels[catalogue[PL_A][20]["id"]] == "Happy"
    # Metadata and features are the server's, exactly.
    t = catalogue[PL_A][0]
    row = table.set_index("id").loc[t["id"]]
    assert row["name"] == t["name"] and row["album"] == t["album"]["name"]
    assert row["artists"] == ", ".join(a["name"] for a in t["artists"])
    assert row["popularity"] == t["popularity"] and bool(row["explicit"]) == t["explicit"]
    for f in ("energy", "tempo", "valence", "loudness", "key", "mode"):
        assert row[f] == pytest.approx(t["_features"][f])
    assert summary["features"] == "available" and summary["notice"] is None
    # Pagination followed: 3 pages for A, one each for B and C; features in batches of <= 100.
    assert len(server.requests(f"/v1/playlists/{PL_A}/items")) == 3
    batches = server.requests("/v1/audio-features")
    assert len(batches) == 2 and all(len(r["query"]["ids"].split(",")) <= 100 for r in batches)
    # Previews: one <id>.mp3 per track, the server's bytes, no temp files left; checkpoint gone.
    files = sorted(p.name for p in prev.iterdir())
    assert files == sorted(f"{i}.mp3" for i in table["id"])
    assert (prev / f"{t['id']}.mp3").read_bytes() == FakeSpotify.preview_bytes(t["id"])
    assert summary["previews_downloaded"] == len(table)
    assert not partial_dir(tmp_path / "moods.csv").exists()


def test_parquet_output_and_2026_item_shape(server, tmp_path):
    server.item_key = "item"  # the February 2026 playlist-items shape
    client = client_for(server)
    summary = spotify.collect_playlists([PL_C], label="Calm", out=tmp_path / "c.parquet", client=client)
    table = pd.read_parquet(tmp_path / "c.parquet")
    assert list(table.columns) == [*COLUMNS, "mood"] and len(table) == summary["tracks"] == 20
    assert set(table["mood"]) == {"Calm"}


def test_playlist_ids_and_bad_input(tmp_path):
    assert spotify.playlist_id("spotify:playlist:" + PL_A) == PL_A
    assert spotify.playlist_id(f"https://open.spotify.com/intl-de/playlist/{PL_A}?si=abc") == PL_A
    with pytest.raises(CollectError, match="not a Spotify playlist"):
        spotify.playlist_id("https://example.com/whatever")
    with pytest.raises(CollectError, match="--label"):
        spotify.collect_playlists([PL_A], label=None, out=tmp_path / "x.csv")
    with pytest.raises(CollectError, match=r"\.csv or \.parquet"):
        spotify.collect_playlists([PL_A], label="Happy", out=tmp_path / "x.xlsx")
    bad = tmp_path / "map.csv"
    bad.write_text(f"playlist,label\n{PL_A},Happy\n{PL_A},Dark\n")
    with pytest.raises(CollectError, match="two labels"):
        spotify.collect_playlists([], label=None, from_csv=bad, out=tmp_path / "x.csv")


def test_missing_credentials(monkeypatch, tmp_path):
    monkeypatch.delenv("SPOTIFY_CLIENT_ID", raising=False)
    monkeypatch.delenv("SPOTIFY_CLIENT_SECRET", raising=False)
    with pytest.raises(CollectError, match="SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET"):
        spotify.collect_playlists([PL_A], label="Happy", out=tmp_path / "x.csv")


def test_unknown_playlist_is_reported_and_the_rest_collected(server, tmp_path):
    missing = "0000000000000000000000"
    summary = spotify.collect_playlists(
        [missing, PL_C], label="Happy", out=tmp_path / "x.csv", client=client_for(server)
    )
    assert summary["tracks"] == 20
    assert summary["failed_playlists"][0]["playlist"] == missing and "404" in summary["failed_playlists"][0]["reason"]


# -- random sampling -----------------------------------------------------------------------------------------------
@pytest.fixture
def search_server():
    rng = random.Random(7)
    hits = [make_track(rng, year=rng.choice([2019, 2020, 2021])) for _ in range(400)]
    others = [make_track(rng, year=2015) for _ in range(100)] + [make_track(rng, genre="rock") for _ in range(100)]
    with FakeSpotify(client_id="cid", secret=SECRET, catalogue=hits + others) as fake:
        fake.hits = {t["id"] for t in hits}
        yield fake


def test_sample_is_random_deduped_and_filtered(search_server, tmp_path):
    fake = search_server
    summary = spotify.collect_sample(n=60, out=tmp_path / "s.csv", seed=3, client=client_for(fake))
    table = pd.read_csv(tmp_path / "s.csv")
    assert list(table.columns) == COLUMNS
    assert len(table) == 60 and table["id"].is_unique and set(table["id"]) <= fake.hits
    assert summary["exhausted"] is False and summary["tracks"] == 60
    searches = fake.requests("/v1/search")
    queries = {r["query"]["q"] for r in searches}
    assert all(q.endswith('genre:"hip-hop" year:2019-2021') for q in queries)
    assert len({q.split()[0] for q in queries}) > 5  # random short strings ...
    assert len({r["query"]["offset"] for r in searches}) > 5  # ... at random offsets
    assert all(int(r["query"]["limit"]) <= 10 for r in searches)
    # The same seed draws the same sample; another seed another one.
    again = spotify.collect_sample(n=60, out=tmp_path / "s2.csv", seed=3, client=client_for(fake))
    assert again["tracks"] == 60 and list(pd.read_csv(tmp_path / "s2.csv")["id"]) == list(table["id"])
    other = spotify.collect_sample(n=60, out=tmp_path / "s3.csv", seed=4, client=client_for(fake))
    assert set(pd.read_csv(tmp_path / "s3.csv")["id"]) != set(table["id"]) and other["tracks"] == 60


def test_sample_stops_when_search_space_is_exhausted(tmp_path):
    rng = random.Random(1)
    small = [make_track(rng, year=2020) for _ in range(12)]
    with FakeSpotify(client_id="cid", secret=SECRET, catalogue=small) as fake:
        summary = spotify.collect_sample(n=500, out=tmp_path / "s.csv", client=client_for(fake), patience=15)
    table = pd.read_csv(tmp_path / "s.csv")
    assert summary["exhausted"] is True and "exhausted" in summary["exhausted_message"]
    assert 0 < len(table) <= 12 and table["id"].is_unique
    assert summary["duplicates_dropped"] > 0


# -- faults --------------------------------------------------------------------------------------------------------
def test_every_injected_fault_is_survived(server, catalogue, tmp_path):
    clean = collect_abc(server, tmp_path, out_name="clean.csv")
    server.log.clear()
    server.inject("/api/token", status=503)  # the token endpoint hiccups ...
    server.inject("/api/token", stall=1.6)  # ... then stalls past the client's timeout
    server.inject("offset=50", status=429, retry_after=3)  # rate limited on A's second page
    server.inject(f"/v1/playlists/{PL_B}/items", status=500, times=2)
    server.inject(f"/v1/playlists/{PL_C}/items", stall=1.6)  # longer than the client's timeout
    server.inject("offset=100", expire_tokens=True, status=None)  # the token expires: 401, refresh once
    server.inject("/v1/audio-features", status=502)
    server.inject("/preview/", status=500)
    sleeps = Sleeps()
    prev = tmp_path / "previews"
    summary = collect_abc(
        server, tmp_path, out_name="faulty.csv", client=client_for(server, sleeps, timeout=1.0), previews=prev
    )
    assert pd.read_csv(tmp_path / "faulty.csv").equals(pd.read_csv(tmp_path / "clean.csv"))
    assert summary["tracks"] == clean["tracks"] and summary["previews_downloaded"] == summary["tracks"]
    assert all(not f.times for f in server.faults)  # every fault was hit
    assert 3.0 in sleeps  # Retry-After honoured
    assert len(sleeps) == 8 and all(0 < s <= 30 for s in sleeps)  # bounded backoff, no sleep for the 401
    assert len(server.requests("/api/token")) == 4  # 503, stall, a token, a new one after the 401
    assert [r["status"] for r in server.requests("offset=100")] == [401, 200]


def test_retry_is_bounded_and_jittered(server, tmp_path):
    server.inject(f"/v1/playlists/{PL_C}/items", status=500, times=99)
    sleeps = Sleeps()
    with pytest.raises(CollectError, match="gave up on playlist .* after 4 attempts .*rerun"):
        spotify.collect_playlists(
            [PL_C], label="x", out=tmp_path / "x.csv", client=client_for(server, sleeps, attempts=4)
        )
    assert len(server.requests(f"/v1/playlists/{PL_C}/items")) == 4
    assert len(sleeps) == 3 and sleeps[0] < sleeps[2] and all(0.25 <= s <= 2.0 for s in sleeps)


def test_retry_after_beyond_the_cap_stops_with_a_clear_message(server, tmp_path):
    server.inject("/v1/playlists/", status=429, retry_after=86400)
    with pytest.raises(CollectError, match=r"wait 86400 s .*rerun the same command later"):
        spotify.collect_playlists([PL_C], label="x", out=tmp_path / "x.csv", client=client_for(server))


def test_second_401_is_not_retried_forever(server, tmp_path):
    server.inject(f"/v1/playlists/{PL_C}/items", status=401, times=99)
    with pytest.raises(CollectError, match="401"):
        spotify.collect_playlists([PL_C], label="x", out=tmp_path / "x.csv", client=client_for(server))
    assert len(server.requests(f"/v1/playlists/{PL_C}/items")) == 2


def test_unreachable_server_gives_up_with_a_clear_message(tmp_path):
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    sleeps = Sleeps()
    client = SpotifyClient(
        "cid", SECRET, api_url=url, accounts_url=url, retry=RetryPolicy(max_attempts=3, sleep=sleeps)
    )
    with pytest.raises(CollectError, match="after 3 attempts .*connection failed") as err:
        spotify.collect_playlists([PL_C], label="x", out=tmp_path / "x.csv", client=client)
    assert len(sleeps) == 2 and SECRET not in str(err.value)


def test_preview_failures_are_reported_and_the_rest_downloaded(server, catalogue, tmp_path):
    bad = catalogue[PL_C][0]["id"]
    server.inject(f"/preview/{bad}.mp3", status=404)
    prev = tmp_path / "prev"
    summary = spotify.collect_playlists(
        [PL_C], label="x", out=tmp_path / "x.csv", previews=prev, client=client_for(server)
    )
    assert summary["previews_downloaded"] == 19 and summary["previews_failed"][0]["id"] == bad
    assert "404" in summary["previews_failed"][0]["reason"] and not (prev / f"{bad}.mp3").exists()
    assert not [p for p in prev.iterdir() if not p.name.endswith(".mp3")]  # no temp files left
    # A rerun downloads only what is missing.
    server.log.clear()
    again = spotify.collect_playlists(
        [PL_C], label="x", out=tmp_path / "x.csv", previews=prev, client=client_for(server)
    )
    assert again["previews_downloaded"] == 1 and len(server.requests("/preview/")) == 1


def test_not_json_answer_is_an_error_not_an_empty_playlist(server, tmp_path):
    server.inject(f"/v1/playlists/{PL_C}/items", status=200, body="<html>captive portal</html>")
    with pytest.raises(CollectError, match="not JSON"):
        spotify.collect_playlists([PL_C], label="x", out=tmp_path / "x.csv", client=client_for(server))
    server.inject("/api/token", status=200, body="<html>not the accounts service</html>")
    with pytest.raises(CollectError, match="token endpoint .* did not answer JSON"):
        spotify.collect_playlists([PL_C], label="x", out=tmp_path / "y.csv", client=client_for(server))


# -- the November 2024 change --------------------------------------------------------------------------------------
def test_audio_features_403_gives_one_message_and_metadata_continues(server, tmp_path):
    server.features_status = 403
    for ts in server.playlists.values():
        for t in ts:
            t["preview_url"] = None
    prev = tmp_path / "previews"
    summary = collect_abc(server, tmp_path, previews=prev)
    table = pd.read_csv(tmp_path / "moods.csv")
    assert len(table) == summary["tracks"] == 167 and list(table.columns) == [*COLUMNS, "mood"]
    assert table["energy"].isna().all() and table["name"].notna().all()
    assert len(server.requests("/v1/audio-features")) == 1  # stopped asking after the first 403
    assert summary["features"] == "denied" and summary["previews_downloaded"] == 0
    notice = summary["notice"]
    assert "2024-11-27" in notice and "trackscope extract" in notice and "trackscope analyze" in notice
    assert "audio features or 30-s previews" in notice
    only_previews = spotify.november_2024_notice(features_denied=False, previews_missing=True)
    assert "gives this app 30-s previews:" in only_previews
    assert spotify.november_2024_notice(features_denied=False, previews_missing=False) is None


# -- resume --------------------------------------------------------------------------------------------------------
def test_resume_after_a_fault_kills_the_run(server, catalogue, tmp_path):
    server.inject("offset=100", status=500, times=99)  # A's third page keeps failing
    out = tmp_path / "moods.csv"
    with pytest.raises(CollectError, match="rerun"):
        collect_abc(server, tmp_path, client=client_for(server, attempts=2))
    assert partial_dir(out).exists() and not out.exists()
    server.clear_faults()
    summary = collect_abc(server, tmp_path)
    assert summary["resumed"] is True
    page_a = [r["target"] for r in server.requests(f"/v1/playlists/{PL_A}/items") if r["status"] == 200]
    assert len(page_a) == len(set(page_a)) == 3  # pages 1 and 2 were not fetched again
    table = pd.read_csv(out)
    assert table["id"].is_unique and len(table) == 167
    assert not partial_dir(out).exists()


def test_resume_after_ctrl_c_and_a_torn_checkpoint(server, tmp_path):
    out = tmp_path / "moods.csv"

    def interrupt(done, total):
        if done >= 100:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        collect_abc(server, tmp_path, progress=interrupt)
    journal = partial_dir(out) / "progress.jsonl"
    with open(journal, "a") as fh:
        fh.write('{"t":"page","playlist":"torn')  # the process died mid-write
    summary = collect_abc(server, tmp_path)
    assert summary["resumed"] and summary["tracks"] == 167
    ok = [r["target"] for r in server.requests("/items") if r["status"] == 200]
    assert len(ok) == len(set(ok)) == 5  # A: 3 pages, B, C: 1 each — none twice


def test_sample_resume_continues_the_same_draw(search_server, tmp_path):
    fake = search_server
    spotify.collect_sample(n=40, out=tmp_path / "full.csv", seed=5, client=client_for(fake))
    fake.log.clear()

    def interrupt(done, total):
        if done >= 15:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        spotify.collect_sample(n=40, out=tmp_path / "cut.csv", seed=5, client=client_for(fake), progress=interrupt)
    first = len(fake.requests("/v1/search"))
    spotify.collect_sample(n=40, out=tmp_path / "cut.csv", seed=5, client=client_for(fake))
    searches = fake.requests("/v1/search")
    targets = [r["target"] for r in searches]
    assert len(targets) == len(set(targets)) and len(targets) > first  # no page searched twice
    assert list(pd.read_csv(tmp_path / "cut.csv")["id"]) == list(pd.read_csv(tmp_path / "full.csv")["id"])
    # A checkpoint left by other settings is refused, not mixed in.
    with pytest.raises(KeyboardInterrupt):
        spotify.collect_sample(n=40, out=tmp_path / "cut2.csv", seed=5, client=client_for(fake), progress=interrupt)
    with pytest.raises(CollectError, match="different collection"):
        spotify.collect_sample(n=40, out=tmp_path / "cut2.csv", seed=6, client=client_for(fake))


def test_resume_inside_audio_features_and_custom_checkpoint_dir(server, tmp_path):
    ck = tmp_path / "ck"
    server.inject("/v1/audio-features", status=503, times=99, skip=1)  # batch 1 goes through, batch 2 keeps failing
    with pytest.raises(CollectError, match="audio features"):
        collect_abc(server, tmp_path, checkpoint_dir=ck, client=client_for(server, attempts=2))
    assert (ck / "moods.csv.partial" / "progress.jsonl").exists()
    server.clear_faults()
    summary = collect_abc(server, tmp_path, checkpoint_dir=ck)
    ok = [r for r in server.requests("/v1/audio-features") if r["status"] == 200]
    assert len(ok) == 2 and summary["features"] == "available"  # batch 1 once (first run), batch 2 once (rerun)
    assert not (ck / "moods.csv.partial").exists()


# -- the secret ----------------------------------------------------------------------------------------------------
def _secret_forms(client_id: str) -> list[str]:
    return [
        SECRET,
        base64.b64encode(f"{client_id}:{SECRET}".encode()).decode(),
        base64.b64encode(SECRET.encode()).decode(),
    ]


def _all_text(folder: Path) -> str:
    return "\n".join(p.read_bytes().decode("latin-1") for p in folder.rglob("*") if p.is_file())


def test_secret_never_reaches_logs_errors_or_files(server, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    server.inject("offset=100", status=500, times=99)
    with pytest.raises(CollectError) as failed:
        collect_abc(server, tmp_path, client=client_for(server, attempts=2))
    checkpoint_text = _all_text(partial_dir(tmp_path / "moods.csv"))
    server.clear_faults()
    collect_abc(server, tmp_path, previews=tmp_path / "prev")
    # A server that echoes the secret in its error: the message must not repeat it.
    server.inject("/api/token", status=401, body={"error": f"invalid_client {SECRET}", "error_description": SECRET})
    with pytest.raises(CollectError, match="refused the client credentials") as refused:
        collect_abc(server, tmp_path, out_name="other.csv")
    text = "\n".join([caplog.text, str(failed.value), str(refused.value), checkpoint_text, _all_text(tmp_path)])
    assert "Sending POST" in caplog.text  # spotipy's debug log was captured (and redacted)
    for form in _secret_forms(server.client_id):
        assert form not in text


# -- the command line ----------------------------------------------------------------------------------------------
def _cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    full = {**os.environ, "OMP_NUM_THREADS": "1", **env}
    return subprocess.run(
        [sys.executable, "-m", "trackscope", *args], capture_output=True, text=True, env=full, cwd=cwd
    )


def test_cli_playlists_and_sample(server, tmp_path):
    server.inject("/v1/search", status=429, retry_after=0)
    proc = _cli(
        ["collect", "playlists", PL_A, PL_C, "--label", "Happy", "--out", "m.csv", "--json"], server.env(), tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["tracks"] == 139 and result["duplicates_dropped"] == 1 and result["out"].endswith("m.csv")
    assert len(pd.read_csv(tmp_path / "m.csv")) == 139
    rng = random.Random(3)
    server.catalogue = [make_track(rng, year=2020) for _ in range(80)]
    args = ["collect", "sample", "--genre", "hip-hop", "--years", "2019-2021", "--n", "20", "--out", "s.parquet"]
    proc2 = _cli(args, server.env(), tmp_path)
    assert proc2.returncode == 0, proc2.stderr
    assert len(pd.read_parquet(tmp_path / "s.parquet")) == 20
    assert "Tracks" in proc2.stdout + proc2.stderr
    for p in (proc, proc2):
        for form in _secret_forms(server.client_id):
            assert form not in p.stdout + p.stderr
    assert not list(tmp_path.glob(".cache*"))  # spotipy's token file is never written
    assert "HTTP Error" not in proc2.stderr  # spotipy's per-request error lines stay off the terminal


def _invoke(args: list[str], env: dict[str, str]):
    from typer.testing import CliRunner

    from trackscope.cli import app

    return CliRunner().invoke(app, args, env=env)


def test_cli_errors_exit_2(server, tmp_path):
    out = str(tmp_path / "m.csv")
    res = _invoke(["collect", "playlists", PL_A, "--out", out], server.env())
    assert res.exit_code == 2 and "--label" in res.stderr
    env = {**server.env(), "SPOTIFY_CLIENT_SECRET": "wrong-" + SECRET}
    res = _invoke(["collect", "playlists", PL_A, "--label", "x", "--out", out], env)
    assert res.exit_code == 2 and "refused the client credentials" in res.stderr
    assert SECRET not in res.stderr + res.stdout
    res = _invoke(["collect", "sample", "--n", "5", "--out", out], {**server.env(), "SPOTIFY_CLIENT_ID": ""})
    assert res.exit_code == 2 and "set SPOTIFY_CLIENT_ID" in res.stderr


def test_cli_human_output_gives_the_november_2024_message_once(server, tmp_path):
    server.features_status = 403
    res = _invoke(["collect", "playlists", PL_C, "--label", "Calm", "--out", str(tmp_path / "c.csv")], server.env())
    assert res.exit_code == 0, res.stderr
    assert res.stderr.count("2024-11-27") == 1 and "trackscope extract" in res.stderr
    assert "Tracks" in res.stdout and "denied" in res.stdout


def test_output_reads_back_through_the_table_reader(server, tmp_path):
    from trackscope.sources.tables import read_table

    summary = collect_abc(server, tmp_path)
    table = read_table(tmp_path / "moods.csv").require(SPOTIFY_FEATURES, "mood")
    assert len(table) == summary["tracks"] and table.stats["duplicates_dropped"] == 0
    assert table.features == SPOTIFY_FEATURES and set(table.y()) == {"Happy", "Dark"}
    assert table.X().shape == (summary["tracks"], 10)


def test_two_runs_never_share_a_checkpoint(server, tmp_path):
    from trackscope.sources.spotify_checkpoint import Checkpoint

    out = tmp_path / "x.csv"
    held = Checkpoint(out, {"kind": "playlists", "version": 1})  # another run holds the checkpoint
    with held, pytest.raises(CollectError, match="another trackscope collect is writing"):
        spotify.collect_playlists([PL_C], label="x", out=out, client=client_for(server))
    assert spotify.collect_playlists([PL_C], label="x", out=out, client=client_for(server))["tracks"] == 20
