"""trackscope.features: what models read, computed from audio or tables and cached by content.

- :mod:`~trackscope.features.store` (+ ``entries``, ``reader``): the ``trackscope extract`` feature store.
- :mod:`~trackscope.features.cache`: the per-clip cache of feature arrays.
- :mod:`~trackscope.features.song`: a song's 30-s windows as mood features (musicnn + descriptors).
- :mod:`~trackscope.features.clips`: popularity's clip mels and musicnn embeddings.
- :mod:`~trackscope.features.metadata`: release year, month, explicit and genre codes from a table.
"""
