"""Host side of heaptrack: the virtual board, report parsers, the ``mpheaptrack`` command and a pytest plugin."""

__version__ = "0.2.0"
