"""The recording writer: ``mpheaptrack record``'s file, a header, the samples, the
script's MemoryError/ENOMEM lines and an end line (the format and its reader are in
recording.py). Each line is flushed as it is written, so that a recording cut short
(the recorder killed, the machine down) still holds every sample taken before.

    with RecordingWriter(path) as rec:      # OSError if it cannot be written
        rec.header(board, interval=..., duration=..., script=..., hard_reset=...)
        rec.sample(line)                    # recording.Sample.to_json()'s dict
        rec.python_error(t, text)
        rec.end(samples, script_error, board_lost)
"""

from __future__ import annotations

import datetime
import json
from typing import Optional

from .recording import RECORD_VERSION

__all__ = ["RecordingWriter"]


class RecordingWriter:
    def __init__(self, path):
        self.path = path
        self._f = open(path, "w", encoding="utf-8")

    def __enter__(self) -> "RecordingWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._f.close()

    def _line(self, obj: dict) -> None:
        self._f.write(json.dumps(obj) + "\n")
        self._f.flush()

    def header(self, board, *, interval: float, duration: Optional[float], script: Optional[str],
               hard_reset: bool) -> None:
        """The first line: which board (a connection.Connection), how it is sampled, when it began."""
        self._line({"type": "record", "version": RECORD_VERSION, "port": board.device,
                    "virtual": board.vboard is not None, "machine": board.machine,
                    "track_deleted": board.track_deleted, "interval": interval, "duration": duration,
                    "script": script, "hard_reset": hard_reset,
                    "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds")})

    def sample(self, line: dict) -> None:
        """A sample, as Sample.to_json() made it (tasks labelled by recording.Instances)."""
        self._line(line)

    def python_error(self, t: float, text: str) -> None:
        """A MemoryError or ENOMEM line of the script's output, after the sample at t."""
        self._line({"type": "python_error", "t": t, "text": text})

    def end(self, samples: int, script_error: Optional[str], board_lost: Optional[str]) -> None:
        self._line({"type": "end", "samples": samples, "script_error": script_error, "board_lost": board_lost})
