# What `import trackscope` offers, for IDEs and type checkers: the package imports these lazily (PEP 562,
# trackscope/__init__.py), so they are re-exported here from where they are defined.
from trackscope import api as api
from trackscope.api import Analysis as Analysis
from trackscope.api import Model as Model
from trackscope.api import analyze_songs as analyze
from trackscope.api import describe as describe
from trackscope.api import load_model as load_model
from trackscope.api import train_mood as train_mood
from trackscope.api import train_popularity as train_popularity
from trackscope.audio.musicnn.embed import embed as embed
from trackscope.errors import TrackscopeError as TrackscopeError
from trackscope.features.transform import Descriptors as Descriptors
from trackscope.features.transform import MusicnnEmbedder as MusicnnEmbedder

__version__: str
__all__ = [
    "Analysis",
    "Descriptors",
    "Model",
    "MusicnnEmbedder",
    "TrackscopeError",
    "__version__",
    "analyze",
    "api",
    "describe",
    "embed",
    "load_model",
    "train_mood",
    "train_popularity",
]
