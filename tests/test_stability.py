"""Models that rounding cannot move (issue 10 §2): near-constant inputs never reach a scaler, dead musicnn channels
are never features, and every shipped or freshly trained model keeps its probabilities within 1e-3 when its inputs
move by float32-sized amounts (:mod:`tests.stability`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stability import PROBA_TOL, assert_stable, max_shift
from trackscope.models.preprocess import DropNearConstant, near_constant
from trackscope.sources.example import example_table

FEATURES = ["energy", "valence", "tempo", "loudness"]


def _table_with_noise_columns(n: int = 120, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The made-up mood table plus what a dead network channel looks like: a constant carrying 1e-13 rounding
    noise, and a zero carrying 1e-14."""
    rng = np.random.default_rng(seed)
    frame = example_table(n, seed=seed)
    x = frame[FEATURES].to_numpy(dtype=np.float64)
    const = 0.731 + 1e-13 * rng.standard_normal(n)
    zero = 1e-14 * rng.standard_normal(n)
    return np.column_stack([x, const, zero]), frame["mood"].to_numpy()


def test_near_constant_rule_keeps_signal_and_drops_rounding_noise():
    rng = np.random.default_rng(1)
    n = 200
    x = np.column_stack(
        [
            1000.0 + rng.standard_normal(n),  # a big offset with real spread (1e-3 relative): signal
            1e-6 * rng.standard_normal(n),  # small units, but a spread far above the absolute floor: signal
            5.0 + 1e-7 * rng.standard_normal(n),  # 5 ± 2e-8 relative: float32 rounding, not signal
            1e-13 * rng.standard_normal(n),  # zero plus rounding noise
            np.full(n, 3.0),  # exactly constant
        ]
    )
    np.testing.assert_array_equal(near_constant(x), [False, False, True, True, True])
    step = DropNearConstant().fit(x)
    assert step.transform(x).shape == (n, 2)
    np.testing.assert_allclose(step.center_, x.mean(axis=0))
    frame = pd.DataFrame(x, columns=list("abcde"))
    out = DropNearConstant().fit(frame).transform(frame)
    assert list(out.columns) == ["a", "b"]
    assert list(step.get_feature_names_out(list("abcde"))) == ["a", "b"]
    with pytest.raises(ValueError, match="expected 5 columns"):
        step.transform(x[:, :3])
    # every column constant: the widest is kept, so the pipeline still has an input
    assert DropNearConstant().fit(np.ones((5, 3))).keep_.sum() == 1


def test_the_perturbation_check_catches_a_scaler_dividing_by_noise():
    """Without the near-constant step, a standardised logistic regression turns 1e-13 noise into ±1 inputs, and a
    float32-sized change of its inputs moves its probabilities (the failure of the shipped model, issue 10)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = _table_with_noise_columns()
    naive = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=10.0)).fit(x, y)
    assert max_shift(naive.predict_proba, x) > 0.05
    safe = make_pipeline(DropNearConstant(), StandardScaler(), LogisticRegression(max_iter=2000, C=10.0)).fit(x, y)
    assert max_shift(safe.predict_proba, x) < PROBA_TOL


@pytest.mark.parametrize("family", ["logreg", "mlp", "svm", "rf", "gbm"])
def test_every_table_family_is_stable_under_float_perturbations(family):
    from trackscope.models.tabular import search_space

    x, y = _table_with_noise_columns()
    small = {"mlp": {"clf__max_iter": 300}, "rf": {"clf__n_estimators": 30}, "gbm": {"clf__max_iter": 30}}
    est = search_space(family, n_features=x.shape[1], n_classes=5)[0].set_params(**small.get(family, {})).fit(x, y)
    assert list(est.named_steps["drop"].keep_) == [True] * 4 + [False, False]
    # training rows and rows the model never saw (tree ensembles: see stability.assert_stable)
    fresh, _ = _table_with_noise_columns(60, seed=5)
    assert_stable(est, np.vstack([x, fresh]), family)


def test_popularity_table_models_are_stable():
    from trackscope.tasks.popularity.table import TABLE_MODELS, make_model

    x, moods = _table_with_noise_columns()
    y = (moods == "Energetic").astype(int)
    fresh, _ = _table_with_noise_columns(60, seed=5)
    for name in TABLE_MODELS:
        est = make_model(name, seed=0).fit(x, y)
        assert_stable(est, np.vstack([x, fresh]), name)


def test_dead_musicnn_channels_are_never_features():
    from trackscope.audio.musicnn.embed import live_channels
    from trackscope.audio.musicnn.weights import load_weights

    live = live_channels("MSD_musicnn")
    w = load_weights("MSD_musicnn")
    peak = np.abs(np.asarray(w["conv2d_5/kernel"], dtype=np.float64)).reshape(-1, 64).max(axis=0)
    # cnn1's channels are dead exactly where its filter decayed (≤ 1e-29 in the checkpoint); 44 of 64
    np.testing.assert_array_equal(~live["cnn1"], peak < 1e-20)
    assert 150 < live["mean_pool"].sum() < 753 and live["mean_pool"][-64:].all()  # cnn3 residual keeps all live
    assert "penultimate" not in live and "taggram" not in live


@pytest.fixture(scope="module")
def synthetic_clip_features(tmp_path_factory):
    """Features of four made-up clips (one per style) as builtin:mood computes them."""
    from trackscope.features.song import feature_config, song_features
    from trackscope.sources.example_audio import STYLES, style_clip, write_wav

    root = tmp_path_factory.mktemp("clips")
    rows = []
    for i, style in enumerate(STYLES):
        path = root / f"{style}.wav"
        write_wav(path, style_clip(style, 6.0, seed=40 + i))
        sf = song_features(path, feature_config())
        rows.append(sf.vectors)
    return sf.names, np.vstack(rows)


def test_builtin_mood_is_stable_under_float_perturbations(synthetic_clip_features):
    from trackscope.models.persist import load_model_dir, resolve_model_path

    names, x = synthetic_clip_features
    md = load_model_dir(resolve_model_path("builtin:mood"))
    assert md.meta["feature_names"] == names
    pipeline = md.load_sklearn("pipeline")
    assert "drop" in pipeline.named_steps
    centre = pipeline.named_steps["drop"].center_[None, :]  # where the training clips lie
    assert max_shift(pipeline.predict_proba, np.vstack([x, centre]), draws=20) < PROBA_TOL
    # no input the scaler divides by is below float32 rounding of its magnitude
    scaler = pipeline.named_steps["scale"]
    kept_centre = np.abs(pipeline.named_steps["drop"].center_[pipeline.named_steps["drop"].keep_])
    assert (scaler.scale_ > 1e-4 * kept_centre).all() and (scaler.scale_ > 1e-9).all()
