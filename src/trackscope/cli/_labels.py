"""What ``evaluate`` says when a table's labels are not the model's classes: which labels were left out, and a
``--label-map`` guessed from a small table of mood synonyms. Standard library only."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# Words people label moods with, by the class they most likely mean: the study's five classes and the four quadrants
# of Russell's circumplex (4Q: Q1 happy/energetic, Q2 angry/tense, Q3 sad/dark, Q4 calm/relaxing). Lower case.
_Q1 = {"happy", "joyful", "joy", "cheerful", "upbeat", "excited", "exciting", "energetic", "euphoric", "fun"}
_Q2 = {"angry", "anger", "tense", "tension", "aggressive", "anxious", "fear", "fearful", "scary", "furious"}
_Q3 = {"sad", "sadness", "dark", "depressed", "depressing", "melancholic", "melancholy", "gloomy", "bored", "grief"}
_Q4 = {"calm", "relaxed", "relaxing", "peaceful", "chill", "serene", "tender", "soothing", "content", "mellow"}
SYNONYMS: dict[str, frozenset[str]] = {
    "happy": frozenset({"happy", "joyful", "joy", "cheerful", "upbeat", "fun", "q1"}),
    "energetic": frozenset({"energetic", "energy", "excited", "exciting", "euphoric", "powerful", "lively"}),
    "aggressive": frozenset({"angry", "anger", "tense", "tension", "aggressive", "furious", "fear", "anxious", "q2"}),
    "dark": frozenset(
        {"sad", "sadness", "dark", "depressed", "depressing", "melancholic", "melancholy", "gloomy", "grief", "q3"}
    ),
    "relaxing": frozenset(
        {"calm", "relaxed", "relaxing", "peaceful", "chill", "serene", "soothing", "mellow", "tender", "q4"}
    ),
    "q1": frozenset(_Q1 | {"happy/energetic"}),
    "q2": frozenset(_Q2 | {"aggressive/tense"}),
    "q3": frozenset(_Q3 | {"sad/dark"}),
    "q4": frozenset(_Q4 | {"calm/relaxing"}),
}


def guess_label_map(labels: Sequence[str], classes: Sequence[str]) -> dict[str, str]:
    """``{label: class}`` for the labels a synonym names one of ``classes`` (``sad`` → ``Dark``, ``calm`` →
    ``Q4``); labels with no guess are left out."""
    guesses: dict[str, str] = {}
    for label in labels:
        word = str(label).strip().lower()
        matches = [c for c in classes if word in SYNONYMS.get(str(c).strip().lower(), ())]
        if len(matches) == 1:
            guesses[str(label)] = str(matches[0])
    return guesses


def _quote(label_map: Mapping[str, str]) -> str:
    return '"' + ",".join(f"{k}={v}" for k, v in label_map.items()) + '"'


def excluded_hint(result: Mapping[str, Any]) -> str | None:
    """The note ``evaluate`` prints when rows were left out because the model never learnt their labels: how many,
    which labels (when the result names them, as table evaluations do), the model's classes and a ``--label-map``
    to try. None when nothing was left out for its label."""
    excluded = result.get("excluded")
    if not isinstance(excluded, int) or isinstance(excluded, bool) or excluded <= 0:
        return None
    confusion = result.get("confusion")
    classes = [str(c) for c in (confusion.get("labels", []) if isinstance(confusion, Mapping) else [])]
    if not classes:
        return None  # not a classification (popularity: rows left out for missing values)
    n = result.get("n")
    labels = result.get("excluded_labels")
    # a table's rows with a label are the ones scored plus the ones left out (audio also loses unreadable clips)
    total = f" of {excluded + n}" if isinstance(n, int) and isinstance(labels, Mapping) else ""
    known = ", ".join(classes)
    if isinstance(labels, Mapping) and labels:
        ordered = [str(k) for k, _ in sorted(labels.items(), key=lambda kv: (-kv[1], str(kv[0])))]
        counts = ", ".join(f"{k} ({labels[k]})" for k in ordered)
        text = f"{excluded}{total} rows left out: labels the model never learnt — {counts}; it knows {known}."
        guess = guess_label_map(ordered, classes)
        unmatched = [k for k in ordered if k not in guess]
        if guess:
            text += f" If they mean the same, rerun with --label-map {_quote(guess)}"
            text += f" (no guess for {', '.join(unmatched)})." if unmatched else "."
        else:
            text += f' Map them onto those with --label-map "{unmatched[0]}=CLASS,…" to score these rows.'
        return text
    return (
        f"{excluded}{total} rows left out: their labels are not among the model's classes ({known}). Map them onto "
        f'those with --label-map, e.g. "sad={guess_label_map(["sad"], classes).get("sad", classes[0])}".'
    )
