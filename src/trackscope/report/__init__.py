"""trackscope.report: every file a person reads — model folders (through :mod:`trackscope.models.persist`), model
cards, self-contained HTML reports (:mod:`~trackscope.report.html`, :mod:`~trackscope.report.plots`) and explanation
pictures — written from what the tasks return (:mod:`trackscope.tasks.results`).

- :mod:`~trackscope.report.mood`, :mod:`~trackscope.report.mood_audio`, :mod:`~trackscope.report.popularity`:
  ``write_model`` (a trained model's folder) and ``write_explanation``.
- :mod:`~trackscope.report.analyze`: ``analysis.csv``, ``analysis.json`` and the report of ``trackscope analyze``.
"""
