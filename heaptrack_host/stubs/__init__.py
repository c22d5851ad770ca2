"""Typed stubs (.pyi) for code that runs on the board: ``heaptrack`` (the firmware's
module) and MicroPython's ``time``.

Installed with the package, ``heaptrack``'s stubs are also the PEP 561 stub package
``heaptrack-stubs``, which mypy and pyright find in site-packages with no
configuration. MicroPython's ``time`` (``ticks_ms``, ``sleep_ms``, ...) cannot come
that way: type checkers keep the standard library's own for a module of its name.
``python -m heaptrack_host.stubs --time DIR`` writes it to DIR/time.pyi: pyright
reads ``typings/`` by default; for mypy set ``mypy_path = typings`` (or
``MYPYPATH=typings``). ``python -m heaptrack_host.stubs`` prints PATH, this
directory, for a ``mypy_path``/``stubPath`` of both (not inside site-packages:
mypy refuses a site-packages directory there)."""
from pathlib import Path

PATH = Path(__file__).resolve().parent
