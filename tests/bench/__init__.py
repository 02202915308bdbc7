"""Benchmarks, run by ``make bench`` (``python -m tests.bench``).

Each ``bench_*.py`` module here has ``run() -> list[dict]``; every dict is
one row: ``{name, value, unit, floor, ratio, budget, note?, within?}``.

- ``floor``: the same work done the cheapest possible way, measured in the
  same run (or None); ``ratio``: value against floor.
- ``budget``: what the issue allows. Either a string of conditions joined by
  "and", each ``<= N`` / ``>= N`` on the value, or ``<= Nx`` / ``>= Nx`` on
  the ratio (text after the number is free, e.g. ``"<= 1.3x floor"``,
  ``">= 500000 messages/s"``), or a number (the most acceptable value).
- ``within``: optional; a module that judges its own row sets it, and the
  runner then trusts it over parsing ``budget``.
"""
