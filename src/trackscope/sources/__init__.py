"""trackscope.sources: where data comes from — tables (``tables``), labelled audio folders (``audio_dirs``), the
Spotify Web API (``spotify*``) and generated example data (``example``, ``example_audio``, ``synthetic_hits``)."""
