"""trackscope.tasks: what trackscope does with songs and tables — compute, never write files.

- :mod:`trackscope.tasks.mood` — mood models from Spotify-feature tables (``table``) or from audio (``audio``).
- :mod:`trackscope.tasks.popularity` — hit-potential models from tables (``table``) or audio (``audio``), and their
  occlusion maps (``explain``).
- :mod:`trackscope.tasks.analyze` — the main job: mood, arousal/valence, tempo, key, loudness and tags of songs.
- :mod:`trackscope.tasks.results` — what they return (a trained model, an explanation, an analysis), which the
  report layer (:mod:`trackscope.report`) turns into model folders, cards, reports and pictures.
"""
