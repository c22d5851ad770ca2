"""Typed stubs (.pyi) for code that runs on the board: ``heaptrack`` (the firmware's
module) and MicroPython's ``time``. Point mypy's ``mypy_path`` (pyright/Pylance:
``stubPath``) at PATH; ``python -m heaptrack_host.stubs`` prints it."""
from pathlib import Path

PATH = Path(__file__).resolve().parent
