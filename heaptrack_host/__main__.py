"""``python -m heaptrack_host``: the ``mpheaptrack`` command."""
import sys

from .cli import main

sys.exit(main(prog="python -m heaptrack_host"))
