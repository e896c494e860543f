"""Decode audio files into float32 mono at one sample rate — robustly, and without decoding more than asked for.

Everything trackscope computes from audio starts with :func:`load_audio` (one window of a file),
:func:`iter_windows` (consecutive windows of a whole song, read block by block) or :func:`decode_array`
(an array the caller already holds).

How (measured in ``/work/shared/FIELD-NOTES.md``):

* libsndfile (through soundfile) decodes MP3, Ogg Vorbis/Opus, FLAC, WAV and AIFF without ffmpeg; only the frames
  of the asked-for window are read (``SoundFile.seek`` + ``read``), so a 30-s window of a 20-minute file costs
  30 s of decoding and memory.
* m4a/aac (and anything else libsndfile cannot open) go through an ``ffmpeg`` subprocess when ``ffmpeg`` is on
  PATH: it decodes every channel to a temporary float WAV and we downmix ourselves, so the downmix is the same
  (L+R)/2 as for every other format (ffmpeg's ``-ac 1`` would give (L+R)/√2, +3 dB).
* Mono is the channel mean, computed column by column — ``np.mean(x, axis=1)`` over a (frames, channels) array is
  30× slower for the same numbers.
* Resampling is soxr "HQ", which is also librosa's default (``res_type="soxr_hq"``), so
  ``load_audio(p).samples`` matches ``librosa.load(p, sr=22050)``.

Bad input raises :class:`~trackscope.errors.AudioError` with ``path`` set and a one-line reason. Digital silence
is valid audio (``Audio.silent`` is True). A file libsndfile cannot open is sniffed by its first bytes: text or no
known audio format is "not an audio file" (ffmpeg is tried only where it may help: a container that needs it, or an
unknown format while ffmpeg is on PATH), so a missing ffmpeg is blamed only for files that need it. What decoders
print on fd 2 (libmpg123's "Note: Illegal Audio-MPEG-Header …") is captured around each libsndfile call
(:func:`trackscope._stderr.capture_stderr`) and folded into the error message when decoding fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trackscope.constants import SAMPLE_RATE
from trackscope.errors import AudioError

if TYPE_CHECKING:
    import numpy as np

__all__ = ["Audio", "load_audio", "iter_windows", "decode_array", "SILENCE_PEAK", "FFMPEG_SUFFIXES"]

# A peak below -120 dBFS is below the noise floor of any real recording (24-bit dither sits near -144 dBFS
# only in theory; 16-bit dither at -96 dBFS): treat it as digital silence.
SILENCE_PEAK = 1e-6

# Containers libsndfile cannot read: these go straight to ffmpeg when it is available.
FFMPEG_SUFFIXES = frozenset({".m4a", ".aac", ".mp4", ".m4b", ".alac", ".wma", ".webm"})

# A decoder that returns fewer than this share of the frames the header declares means a truncated file.
_TRUNCATION_TOLERANCE = 0.9

# Frames decoded per read for long windows (~24 s at 44.1 kHz; 8 MB as stereo float32).
_READ_BLOCK = 1 << 20
# The side signal only feeds loudness (energies of 100-ms blocks): soxr's low-quality setting changes those by far
# less than 0.01 dB and resamples ~2x faster than HQ (measured, 30-s stereo clip: 1.8 vs 3.3 ms).
SIDE_QUALITY = "LQ"


@dataclass
class Audio:
    """A decoded window of audio.

    Attributes
    ----------
    samples : float32 mono 1-D array at ``sr``.
    sr : its sample rate (Hz).
    path : the file it came from (None for arrays).
    source_sr, channels : the file's own sample rate and channel count.
    duration : seconds of ``samples``.
    total_duration : seconds in the whole file (None when the decoder cannot tell).
    silent : True when the window is digital silence (peak below -120 dBFS).
    offset : where the window starts in the file (seconds).
    side : for two-channel files read with ``side=True``, the side signal (L−R)/2 at ``sr`` (float32), else None.
        With ``samples`` = (L+R)/2 it restores what a downmix loses: L² + R² = 2·(M² + S²), so BS.1770 loudness of
        the stereo file can be measured exactly (:func:`trackscope.audio.loudness.integrated_loudness`).
    """

    samples: np.ndarray
    sr: int
    path: str | None
    source_sr: int
    channels: int
    duration: float
    total_duration: float | None
    silent: bool
    offset: float = 0.0
    side: np.ndarray | None = None


def _downmix(x: np.ndarray) -> np.ndarray:
    """(frames, channels) → (frames,) channel mean, float32, without np.mean's strided reduction."""
    import numpy as np

    if x.ndim == 1:
        return np.ascontiguousarray(x, dtype=np.float32)
    n_ch = x.shape[1]
    if n_ch == 1:
        return np.ascontiguousarray(x[:, 0], dtype=np.float32)
    if n_ch == 2:
        y = x[:, 0] + x[:, 1]
        y *= np.float32(0.5)
        return y.astype(np.float32, copy=False)
    y = x[:, 0].astype(np.float32, copy=True)
    for c in range(1, n_ch):
        y += x[:, c]
    y *= np.float32(1.0 / n_ch)
    return y


def _side(x: np.ndarray) -> np.ndarray:
    """(frames, 2) → the side signal (L−R)/2, float32."""
    import numpy as np

    s = x[:, 0] - x[:, 1]
    s *= np.float32(0.5)
    return s.astype(np.float32, copy=False)


def _resample(y: np.ndarray, sr_in: int, sr: int, quality: str = "HQ") -> np.ndarray:
    import numpy as np

    if sr_in == sr or y.size == 0:
        return np.ascontiguousarray(y, dtype=np.float32)
    import soxr

    return soxr.resample(y, sr_in, sr, quality=quality).astype(np.float32, copy=False)


def _check_finite(y: np.ndarray, path: Any) -> None:
    import numpy as np

    # One cheap reduction first; the element-wise test only when it is not finite (it may just overflow).
    with np.errstate(over="ignore", invalid="ignore"):
        total = float(np.add.reduce(y, dtype=np.float64))
    if not np.isfinite(total) and not np.isfinite(y).all():
        raise AudioError("audio holds NaN or infinite sample values", path=path)


def _is_silent(y: np.ndarray) -> bool:
    if y.size == 0:
        return True
    return max(float(y.max()), -float(y.min())) < SILENCE_PEAK


def _check_path(path: str | os.PathLike) -> Path:
    p = Path(path)
    if p.is_dir():
        raise AudioError("is a folder, not an audio file", path=p)
    if not p.exists():
        raise AudioError("file not found", path=p)
    if not p.is_file():
        raise AudioError("not a regular file", path=p)
    if p.stat().st_size == 0:
        raise AudioError("empty file (0 bytes)", path=p)
    return p


# What the first bytes of a file say it is (see :func:`_sniff`). libsndfile reads the first group itself; the second
# needs ffmpeg.
_SOUNDFILE_KINDS = frozenset({"WAV", "AIFF", "FLAC", "Ogg", "MP3", "AU", "Wave64", "CAF"})
_FFMPEG_KINDS = frozenset({"MP4/M4A", "ADTS AAC", "ASF/WMA", "Matroska/WebM", "WavPack", "Monkey's Audio", "AMR"})
_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (0, b"RIFF", "WAV"),
    (0, b"RIFX", "WAV"),
    (0, b"RF64", "WAV"),
    (0, b"fLaC", "FLAC"),
    (0, b"OggS", "Ogg"),
    (0, b"ID3", "MP3"),
    (4, b"ftyp", "MP4/M4A"),
    (0, b"\x30\x26\xb2\x75", "ASF/WMA"),
    (0, b"\x1a\x45\xdf\xa3", "Matroska/WebM"),
    (0, b"caff", "CAF"),
    (0, b".snd", "AU"),
    (0, b"riff", "Wave64"),
    (0, b"wvpk", "WavPack"),
    (0, b"MAC ", "Monkey's Audio"),
    (0, b"#!AMR", "AMR"),
)


def _sniff(path: Path) -> str | None:
    """The kind of file its first bytes announce: an audio container (``"MP3"``, ``"MP4/M4A"``, …), ``"text"``, or
    None when they match nothing known."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError:
        return None
    for offset, magic, kind in _MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return kind
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "AIFF"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:  # an MPEG audio frame header
        return "ADTS AAC" if (head[1] >> 1) & 3 == 0 else "MP3"
    if head and b"\x00" not in head:
        for cut in range(4):  # the 4096 bytes may end inside a UTF-8 character
            try:
                text = head[: len(head) - cut].decode("utf-8")
            except UnicodeDecodeError:
                continue
            if all(c.isprintable() or c in "\t\n\r\f\v" for c in text):
                return "text"
            break
    return None


def _soundfile_reason(err: Exception) -> str:
    """libsndfile's reason without the ``Error opening '...':`` prefix (the path is already in the message)."""
    text = str(err).strip()
    if text.startswith("Error opening") and "': " in text:
        text = text.split("': ", 1)[1]
    # libsndfile says this for an .mp3 it cannot parse; the file exists and is regular (checked before)
    if "does not exist or is not a regular file" in text:
        text = "Format not recognised"
    return text.rstrip(".") or type(err).__name__


def _with_chatter(reason: str, chatter: str) -> str:
    """``reason`` plus the decoder's last word on fd 2, when it said something."""
    from trackscope._stderr import last_line

    note = last_line(chatter)
    return f"{reason}; decoder: {note}" if note else reason


class _Source:
    """An open audio file: soundfile directly, or an ffmpeg-decoded temporary WAV.

    Every libsndfile call runs inside :func:`trackscope._stderr.capture_stderr`: what its decoders print on fd 2
    (libmpg123's resync notes) never reaches the terminal; the last of it goes into :attr:`chatter` and into the
    error message when decoding fails.
    """

    def __init__(self, path: Path) -> None:
        import soundfile as sf

        from trackscope._stderr import capture_stderr

        self.path = path
        self._tmp: str | None = None
        self.chatter = ""
        if path.suffix.lower() in FFMPEG_SUFFIXES:
            self.fh = self._via_ffmpeg(path, None)
        else:
            try:
                with capture_stderr() as cap:
                    self.fh = sf.SoundFile(str(path))
                self.chatter = cap.text
            except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as err:
                self.chatter = cap.text
                self.fh = self._not_soundfile(path, err)
        self.sr = int(self.fh.samplerate)
        self.channels = int(self.fh.channels)
        frames = int(self.fh.frames)
        # libsndfile reports a huge sentinel for streams of unknown length.
        self.frames: int | None = frames if 0 < frames < 2**62 else None

    def _not_soundfile(self, path: Path, err: Exception):
        """libsndfile cannot open ``path``: say what it is instead (text, no known audio at all, a damaged file of a
        kind libsndfile reads, a container that needs ffmpeg), trying ffmpeg only where it may help."""
        kind = _sniff(path)
        plain = f"soundfile: {_soundfile_reason(err)}"
        if kind == "text":
            raise AudioError(f"not an audio file: it holds text ({plain})", path=path)
        # what the decoder printed helps with a damaged file of a known kind; for a file of no known kind it is noise
        reason = plain if kind is None else _with_chatter(plain, self.chatter)
        if shutil.which("ffmpeg") is not None:
            return self._via_ffmpeg(path, err, reason=reason, kind=kind)
        if kind in _FFMPEG_KINDS:
            raise AudioError(
                f"{kind} audio needs ffmpeg, which is not on PATH (install ffmpeg, or convert the file to "
                f"wav/flac/mp3/ogg; {reason})",
                path=path,
            )
        if kind in _SOUNDFILE_KINDS:
            raise AudioError(f"damaged or unsupported {kind} file ({reason})", path=path)
        raise AudioError(f"not an audio file: no known audio format ({reason})", path=path)

    def _via_ffmpeg(self, path: Path, err: Exception | None, *, reason: str = "", kind: str | None = None):
        import soundfile as sf

        exe = shutil.which("ffmpeg")
        if exe is None:
            raise AudioError(
                f"{path.suffix.lower()} files need ffmpeg, which is not on PATH (install ffmpeg, "
                "or convert the file to wav/flac/mp3/ogg)",
                path=path,
            )
        fd, tmp = tempfile.mkstemp(prefix="trackscope-", suffix=".wav")
        os.close(fd)
        self._tmp = tmp
        # Every channel, float WAV: we downmix ourselves so the mono mix matches the soundfile path.
        cmd = [exe, "-nostdin", "-v", "error", "-y", "-i", str(path), "-vn", "-c:a", "pcm_f32le", "-f", "wav", tmp]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0 or os.path.getsize(tmp) <= 44:
            self.close()
            msg = (proc.stderr or "").strip().splitlines()
            said = f"ffmpeg: {msg[-1] if msg else 'no audio stream'}"
            if err is not None and kind is None:  # neither decoder knows it, nor do its first bytes
                raise AudioError(f"not an audio file: no known audio format ({reason}; {said})", path=path)
            what = "not a readable audio file" if kind is None else f"damaged or unsupported {kind} file"
            raise AudioError(f"{what} ({reason + '; ' if reason else ''}{said})", path=path)
        try:
            return sf.SoundFile(tmp)
        except (sf.LibsndfileError, RuntimeError) as exc:
            self.close()
            raise AudioError(f"not a readable audio file (ffmpeg output unreadable: {exc})", path=path) from None

    def read(self, start: int, n: int | None, sr: int, side: bool = False) -> tuple[np.ndarray, int, np.ndarray | None]:
        """Frames [start, start + n) (to the end when n is None) as mono float32 at ``sr``, how many source frames
        were decoded, and — with ``side`` on a two-channel file — the side signal (L−R)/2 at ``sr`` (else None).
        Long windows are decoded, downmixed and resampled block by block (soxr's stream resampler gives the same
        samples as one call), so a long stereo file never sits in memory whole."""
        import numpy as np
        import soundfile as sf

        try:
            if start:
                self._decode(self.fh.seek, start)
            want = n
            if want is None and self.frames is not None:
                want = max(0, self.frames - start)
            two = side and self.channels == 2
            if want is not None and want <= _READ_BLOCK:
                block = self._decode(self.fh.read, frames=want, dtype="float32", always_2d=True)
                mono = _downmix(block)
                _check_finite(mono, self.path)
                s = _resample(_side(block), self.sr, sr, quality=SIDE_QUALITY) if two else None
                return _resample(mono, self.sr, sr), mono.size, s
            import soxr

            stream = None if self.sr == sr else soxr.ResampleStream(self.sr, sr, 1, dtype="float32", quality="HQ")
            side_stream = (
                None
                if self.sr == sr or not two
                else soxr.ResampleStream(self.sr, sr, 1, dtype="float32", quality=SIDE_QUALITY)
            )
            parts, side_parts = [], []
            got = 0
            while want is None or got < want:
                step = _READ_BLOCK if want is None else min(_READ_BLOCK, want - got)
                block = self._decode(self.fh.read, frames=step, dtype="float32", always_2d=True)
                if block.shape[0] == 0:
                    break
                mono = _downmix(block)
                if two:
                    s = _side(block)
                    side_parts.append(s if side_stream is None else side_stream.resample_chunk(s))
                del block
                _check_finite(mono, self.path)
                parts.append(mono if stream is None else stream.resample_chunk(mono))
                got += mono.size
                if mono.size < step:
                    break
            if stream is not None:
                parts.append(stream.resample_chunk(np.zeros(0, dtype=np.float32), last=True))
            if side_stream is not None:
                side_parts.append(side_stream.resample_chunk(np.zeros(0, dtype=np.float32), last=True))
            y = np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
            s = (np.concatenate(side_parts) if side_parts else np.zeros(0, dtype=np.float32)) if two else None
            return y, got, s
        except (sf.LibsndfileError, RuntimeError, ValueError) as err:
            reason = _with_chatter(str(err).strip().rstrip(".") or type(err).__name__, self.chatter)
            raise AudioError(f"unreadable or truncated audio ({reason})", path=self.path) from None

    def _decode(self, call: Any, *args: Any, **kw: Any) -> Any:
        """``call(*args, **kw)`` (a libsndfile read or seek) with fd 2 captured; what the decoder printed is kept
        in :attr:`chatter`."""
        from trackscope._stderr import capture_stderr

        cap = None
        try:
            with capture_stderr() as cap:
                return call(*args, **kw)
        finally:  # runs after the capture ended, so cap.text is complete
            if cap is not None and cap.text:
                self.chatter = (self.chatter + cap.text)[-4096:]

    def close(self) -> None:
        fh = getattr(self, "fh", None)
        if fh is not None:
            fh.close()
        if self._tmp is not None:
            Path(self._tmp).unlink(missing_ok=True)
            self._tmp = None

    def __enter__(self) -> _Source:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _open(path: str | os.PathLike) -> _Source:
    p = _check_path(path)
    return _Source(p)


def audio_duration(path: str | os.PathLike) -> float | None:
    """A file's length in seconds from its header (nothing decoded); None when its decoder cannot tell (streams
    read through ffmpeg). Raises :class:`AudioError` for a file that is not audio."""
    with _open(path) as src:
        return None if src.frames is None else src.frames / src.sr


def load_audio(
    path: str | os.PathLike,
    *,
    sr: int = SAMPLE_RATE,
    offset: float = 0.0,
    duration: float | None = None,
    centre: bool = False,
    min_duration: float = 0.5,
    side: bool = False,
) -> Audio:
    """Decode (a window of) an audio file to float32 mono at ``sr``.

    Parameters
    ----------
    path : audio file (mp3, ogg, opus, flac, wav, aiff; m4a/aac with ffmpeg on PATH).
    sr : target sample rate (soxr HQ resampling).
    offset : start of the window (seconds); ignored when ``centre`` is True.
    duration : length of the window (seconds); None reads to the end.
    centre : take the centre ``duration`` seconds of the file (the whole file when it is shorter).
    min_duration : files shorter than this (seconds) are rejected.
    side : also return the side signal (L−R)/2 of a two-channel file as ``Audio.side`` (for exact loudness).

    Raises
    ------
    AudioError : not audio, empty, a folder, too short, NaN/inf samples, unreadable or truncated.

    Examples
    --------
    >>> clip = load_audio("song.mp3", duration=30, centre=True)  # doctest: +SKIP
    >>> clip.samples.shape, clip.sr  # doctest: +SKIP
    ((661500,), 22050)
    """
    if duration is not None and duration <= 0:
        raise AudioError(f"duration must be positive, got {duration}", path=path)
    if offset < 0:
        raise AudioError(f"offset must be >= 0, got {offset}", path=path)
    with _open(path) as src:
        total = None if src.frames is None else src.frames / src.sr
        if total is not None and total < min_duration:
            raise AudioError(f"too short: {total:.2f} s (minimum {min_duration:g} s)", path=path)
        if centre and duration is not None and total is not None:
            offset = max(0.0, (total - duration) / 2.0)
        start = int(round(offset * src.sr))
        n = None if duration is None else int(round(duration * src.sr))
        if src.frames is not None and start >= src.frames:
            raise AudioError(f"offset {offset:.2f} s is past the end of the file ({total:.2f} s)", path=path)
        y, got, s = src.read(start, n, sr, side)
        expected = None
        if src.frames is not None:
            expected = src.frames - start if n is None else min(n, src.frames - start)
        if expected and got < _TRUNCATION_TOLERANCE * expected:
            raise AudioError(
                _with_chatter(
                    f"truncated or corrupt: decoded {got / src.sr:.2f} s of the "
                    f"{expected / src.sr:.2f} s the header declares",
                    src.chatter,
                ),
                path=path,
            )
        if total is None and got / src.sr < min_duration:
            raise AudioError(f"too short: {got / src.sr:.2f} s (minimum {min_duration:g} s)", path=path)
        return _make_audio(y, src, sr=sr, offset=start / src.sr, total=total, side=s)


def _make_audio(
    y: np.ndarray, src: _Source, *, sr: int, offset: float, total: float | None, side: np.ndarray | None = None
) -> Audio:
    """Wrap decoded, finite, resampled mono samples."""
    return Audio(
        samples=y,
        sr=sr,
        path=str(src.path),
        source_sr=src.sr,
        channels=src.channels,
        duration=y.shape[0] / sr,
        total_duration=total,
        silent=_is_silent(y),
        offset=offset,
        side=side,
    )


def iter_windows(
    path: str | os.PathLike,
    *,
    sr: int = SAMPLE_RATE,
    window: float = 30.0,
    hop: float | None = None,
    min_duration: float = 0.5,
    side: bool = False,
    trim: float = 0.0,
) -> Iterator[Audio]:
    """Consecutive windows of a whole song, decoded block by block (never the whole file at once).

    ``hop`` defaults to ``window`` (no overlap). The last window may be shorter than ``window``; it is yielded when
    it lasts at least ``min_duration`` seconds. Each window is resampled on its own.

    ``trim`` (seconds, non-overlapping windows only): when what is left after the last whole window is shorter than
    this, it is not a window of its own — it is split evenly between both ends of the song, so the whole windows
    sit in its centre (a 30.1-s clip read with 30-s windows is its centre 30 s). Needs a known length (every format
    but ffmpeg's streams); without one the windows start at 0.
    """
    if window <= 0 or (hop is not None and hop <= 0):
        raise AudioError("window and hop must be positive", path=path)
    hop = window if hop is None else hop
    with _open(path) as src:
        total = None if src.frames is None else src.frames / src.sr
        if total is not None and total < min_duration:
            raise AudioError(f"too short: {total:.2f} s (minimum {min_duration:g} s)", path=path)
        win_n = int(round(window * src.sr))
        hop_n = int(round(hop * src.sr))
        start = 0
        stop = src.frames
        if trim > 0 and hop_n == win_n and src.frames is not None and src.frames > win_n:
            rest = src.frames % win_n
            if rest < trim * src.sr:
                start = rest // 2
                stop = start + (src.frames // win_n) * win_n
        yielded = False
        while stop is None or start < stop:
            y, got, s = src.read(start, win_n, sr, side)
            if got == 0 or (got < min_duration * src.sr and yielded):
                break
            if got < min_duration * src.sr:
                raise AudioError(f"too short: {got / src.sr:.2f} s (minimum {min_duration:g} s)", path=path)
            yield _make_audio(y, src, sr=sr, offset=start / src.sr, total=total, side=s)
            yielded = True
            if got < win_n:
                break
            start += hop_n


def decode_array(y: Any, sr_in: int, *, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Mono float32 at ``sr`` from an array the caller holds: (samples,), (samples, channels) or (channels, samples).

    For 2-D input the shorter axis is taken as channels. Raises :class:`AudioError` for NaN/inf or empty input.
    """
    import numpy as np

    x = np.asarray(y)
    if x.ndim not in (1, 2) or x.size == 0:
        raise AudioError(f"expected a non-empty 1-D or 2-D audio array, got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.floating):
        if np.issubdtype(x.dtype, np.integer):
            x = x.astype(np.float32) / np.float32(np.iinfo(x.dtype).max + 1)
        else:
            raise AudioError(f"audio array must be numeric, got dtype {x.dtype}")
    if x.ndim == 2 and x.shape[0] < x.shape[1]:
        x = x.T
    mono = _downmix(x.astype(np.float32, copy=False))
    _check_finite(mono, None)
    if int(sr_in) <= 0:
        raise AudioError(f"sample rate must be positive, got {sr_in}")
    return _resample(mono, int(sr_in), int(sr))
