"""musicnn's input pipeline, reproduced number for number without librosa.

musicnn 0.1.0 (``musicnn/extractor.py::batch_data``) does::

    audio, sr = librosa.load(file, sr=16000)                      # soxr "HQ" resampling, channel-mean downmix
    mel = librosa.feature.melspectrogram(y=audio, sr=16000, hop_length=256, n_fft=512, n_mels=96).T
    mel = mel.astype(np.float16)                                  # (!) rounds the mel power to float16
    logmel = np.log10(10000 * mel + 1)                            # numpy 1.x: 10000 → uint16, with float16 → float32
    patches = [logmel[t : t + 187] for t in range(0, len(logmel) - 187 + 1, 187)]   # 3-s patches, no overlap

so the float16 rounding and the float32 log are part of what the weights were trained on, and we keep both
(under numpy 2's promotion rules ``10000 * float16`` would stay float16; we cast to float32 explicitly).
librosa's STFT is centred with zero padding (``pad_mode="constant"``), a periodic Hann window, computed in float64
and stored as complex64; the power is taken in float32 and the Slaney-normalised mel filterbank (fmin 0,
fmax sr/2, Slaney mel scale) is applied in float32. A trailing remainder shorter than a patch is dropped, as in
musicnn; audio shorter than one patch is repeated until it fills one (musicnn's training used "repeat-pad";
its extractor would fail).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from trackscope.errors import AudioError

if TYPE_CHECKING:
    import numpy as np

SR = 16_000  # musicnn/configuration.py
N_FFT = 512
HOP = 256
N_MELS = 96
# librosa.time_to_frames(3, sr=16000, n_fft=512, hop_length=256) + 1, as musicnn's extractor computes it.
PATCH_FRAMES = 187
_FFT_BLOCK = 128  # frames per FFT block

_MEL_CACHE: dict[tuple[int, int, int], Any] = {}


def load(path_or_array: Any, sr: int | None = None) -> np.ndarray:
    """Mono float32 audio at 16 kHz from a file path or an array (``sr`` required for arrays)."""
    from trackscope.audio.io import decode_array, load_audio

    if isinstance(path_or_array, (str, Path)):
        return load_audio(path_or_array, sr=SR).samples
    if sr is None:
        raise AudioError("an audio array needs its sample rate: pass sr=")
    return decode_array(path_or_array, int(sr), sr=SR)


def _hz_to_mel(f):
    """Slaney's mel scale (librosa ``htk=False``): linear below 1 kHz, logarithmic above."""
    import numpy as np

    f = np.asanyarray(f, dtype=np.float64)
    f_sp, min_log_hz, logstep = 200.0 / 3, 1000.0, np.log(6.4) / 27.0
    mels = f / f_sp
    return np.where(f >= min_log_hz, min_log_hz / f_sp + np.log(np.maximum(f, 1e-10) / min_log_hz) / logstep, mels)


def _mel_to_hz(m):
    import numpy as np

    m = np.asanyarray(m, dtype=np.float64)
    f_sp, min_log_hz, logstep = 200.0 / 3, 1000.0, np.log(6.4) / 27.0
    min_log_mel = min_log_hz / f_sp
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


def mel_filterbank(sr: int = SR, n_fft: int = N_FFT, n_mels: int = N_MELS) -> np.ndarray:
    """librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels) — Slaney scale and norm — as float32 (n_mels × bins)."""
    import numpy as np

    key = (sr, n_fft, n_mels)
    if key not in _MEL_CACHE:
        fftfreqs = np.fft.rfftfreq(n=n_fft, d=1.0 / sr)
        mel_f = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(sr / 2.0), n_mels + 2))
        fdiff = np.diff(mel_f)
        ramps = np.subtract.outer(mel_f, fftfreqs)
        weights = np.zeros((n_mels, len(fftfreqs)), dtype=np.float32)
        for i in range(n_mels):
            lower = -ramps[i] / fdiff[i]
            upper = ramps[i + 2] / fdiff[i + 1]
            weights[i] = np.maximum(0, np.minimum(lower, upper))
        weights *= (2.0 / (mel_f[2 : n_mels + 2] - mel_f[:n_mels]))[:, None]
        _MEL_CACHE[key] = weights
    return _MEL_CACHE[key]


def melspectrogram(y: np.ndarray) -> np.ndarray:
    """Mel power spectrogram (frames × 96, float32) of 16-kHz audio, as librosa computes it for musicnn."""
    import numpy as np
    from numpy.lib.stride_tricks import sliding_window_view

    y = np.asarray(y, dtype=np.float32)
    padded = np.pad(y, (N_FFT // 2, N_FFT // 2))
    frames = sliding_window_view(padded, N_FFT)[::HOP]  # (frames, n_fft), a view
    n = np.arange(N_FFT)
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * n / N_FFT)  # periodic Hann, float64 like scipy.signal.get_window
    power = np.empty((frames.shape[0], N_FFT // 2 + 1), dtype=np.float32)
    for start in range(0, frames.shape[0], _FFT_BLOCK):  # blocks that stay in cache: 2.5× faster than one go
        spec = np.fft.rfft(frames[start : start + _FFT_BLOCK] * window, axis=1).astype(np.complex64)
        np.square(np.abs(spec), out=power[start : start + _FFT_BLOCK])  # float32, as librosa's |S| ** 2
    # (mel × bins) @ (bins × frames) in one product, the operand order of librosa's einsum: the float32 sums then
    # round alike (``power @ basis.T``, or the product taken block by block, differs in the last bit now and then,
    # which the float16 rounding can turn into a 4e-4 step).
    from trackscope._threads import single_blas_thread

    with single_blas_thread():  # a second BLAS thread only spins and steals torch's core (see trackscope._threads)
        return (mel_filterbank() @ power.T).T


def log_compress(mel: np.ndarray) -> np.ndarray:
    """musicnn's ``log10(10000 · float16(mel) + 1)``, in float32 (see the module docstring)."""
    import numpy as np
    import torch

    # float32 → float16 → float32 through torch: the same IEEE round-to-nearest-even as numpy's astype (tested
    # bit-equal), in hardware (F16C) — ~60× faster than numpy's software conversion (1.6 ms a 30-s clip, measured).
    x = torch.from_numpy(np.ascontiguousarray(mel, dtype=np.float32)).half().float().numpy()
    x *= np.float32(10000)
    x += np.float32(1)
    return np.log10(x, out=x)


def patches(logmel: np.ndarray, n_frames: int = PATCH_FRAMES, hop: int | None = None) -> np.ndarray:
    """Non-overlapping (by default) patches of ``n_frames`` frames: (n_patches × n_frames × 96) float32."""
    import numpy as np

    hop = n_frames if hop is None else hop
    if logmel.shape[0] == 0:
        raise AudioError("no audio to analyse (empty input)")
    if logmel.shape[0] < n_frames:  # repeat-pad short audio to one patch
        reps = -(-n_frames // logmel.shape[0])
        logmel = np.tile(logmel, (reps, 1))[:n_frames]
    starts = range(0, logmel.shape[0] - n_frames + 1, hop)
    return np.stack([logmel[s : s + n_frames] for s in starts]).astype(np.float32, copy=False)


def spectrogram_patches(y: np.ndarray) -> np.ndarray:
    """16-kHz mono audio → musicnn's input patches (n × 187 × 96)."""
    return patches(log_compress(melspectrogram(y)))
