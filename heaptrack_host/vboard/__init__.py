"""The virtual board: the host firmware behind a pseudo-terminal.

    python -m heaptrack_host.vboard [--firmware PATH] [--flash DIR] [--env NAME=VALUE]...

prints the device path (``/dev/pts/N``) as its first line and serves until
SIGINT/SIGTERM, so that unmodified tools talk to the firmware as they talk to a
USB board::

    mpremote connect /dev/pts/N exec "print(1 + 1)"

How it works
------------
The firmware is MicroPython's unix port (our ``boards/HOST`` variant). It is run
as a child process with ``-i`` (REPL even though stdin is no tty) on pipes that
this program owns; the client's pseudo-terminal is never handed to it. The unix
port's REPL is the same ``pyexec`` code a board runs (friendly REPL, raw REPL,
raw-paste mode), so only what differs from a board is done here:

* Output: the unix firmware writes bare ``\\n`` and relies on a terminal to add
  ``\\r``; a board's REPL sends ``\\r\\n``. Lone ``\\n`` becomes ``\\r\\n``, except
  inside the binary records of mpremote's ``mount`` protocol (``0x18`` + command
  byte + fixed fields), which pass through untouched. Those are decoded only
  during a mount session (from the client's ``__mount()`` to the next boot or
  ``os.umount``): elsewhere 0x18 is program output like any byte.
* Clients: only clients hold the pseudo-terminal open. When the last one closes
  it, what it did not read is dropped, and so is output until a client opens it
  again, as a USB board drops what no host reads: a client that died during a
  flood of output leaves nothing stale for the next. The firmware's pipe and the
  queue to the client hold 16 KiB each (a board's USB buffers, about).
* Input: the unix REPL turns each received ``\\n`` into ``\\r``, so code with
  CRLF line ends would reach its lexer with two line breaks per line. While a
  raw-REPL client sends code, ``\\r\\n`` is passed on as ``\\r`` (in raw-paste
  mode the board then answers the client's flow-control windows itself).
  Program input (sys.stdin, the mount protocol) is passed on unchanged.
* Ctrl-C: a board turns an incoming 0x03 into KeyboardInterrupt while the
  interrupt character is armed (code running), and queues it as a plain byte
  otherwise (REPL line editing, ``micropython.kbd_intr(-1)``). The unix firmware
  arms it by installing a SIGINT handler (and ignores SIGINT otherwise), so for
  each 0x03 from the client the board checks the firmware's caught-signal mask
  (``/proc/PID/status``) and either sends SIGINT (dropping the byte) or passes
  the byte on. The firmware arms it for the user's code only: not while it runs
  the board's own setup (mounting the flash, the code given with ``-c``, which
  it treats as a board treats its ``_boot.py``), so a client that connects,
  Ctrl-C first, while the board restarts does not stop that setup half way;
  ``boot.py`` and ``main.py`` are interruptible.
* Soft reset: on Ctrl-D at the friendly prompt, on an empty raw-REPL command, or
  on ``sys.exit()`` / ``machine.soft_reset()`` the firmware restarts MicroPython
  inside its process, as an ESP32 does (boards/HOST/mp_task.c): it prints
  ``MPY: soft reboot``, runs the setup code and ``boot.py`` again (and
  ``main.py`` in the friendly REPL) and returns to the REPL mode the client was
  in. Its process, and with it ESP-IDF's heap and its statistics, lives on;
  the threads of the old boot end. The board counts soft resets by that line.
* Hard reset: ``machine.reset()`` (``mpremote reset``) ends the firmware process
  with status HARD_RESET_STATUS; the board starts a new one, in its power-on
  state (a new process: a fresh heap, no statistics), and counts it. A client
  whose raw-REPL command was running gets its missing end markers, with a
  notice as its error output. Stopping and starting the virtual board is a
  hard reset too.
* Boot: each boot mounts the flash directory as the root filesystem (``/``),
  makes it the current directory and sets ``sys.path`` to
  ``['', '.frozen', '/lib']``; the firmware then runs ``boot.py`` and
  (friendly REPL only) ``main.py`` from it, as the esp32 port does.
* Crash: a firmware killed by a signal, or whose output has a fatal report
  (``FATAL: uncaught NLR``, or any AddressSanitizer/LeakSanitizer/UBSan report
  from a ``make SANITIZE=1`` firmware, which dies of it with status 1 instead
  of a signal), or that exits in any other way than a hard reset, is announced
  on the terminal, in the log (with the whole report) and on stderr, counted
  (``VirtualBoard.crashes`` and the status file) and restarted (a new process,
  as after a hard reset). If a raw-REPL command was running, its missing end
  markers are sent, with the crash message as its error output, so the client
  fails instead of waiting forever. The sanitizers' runtime options are set
  for the firmware (SANITIZER_OPTIONS): UBSan halts on its first report, and
  findings in upstream MicroPython are suppressed only as listed, with reasons,
  in ``native/tests/*-upstream.supp``.
* A boot (setup, boot.py, main.py) that has not reached the REPL after 3 s is
  announced on the wire, on stderr and in the log; when a raw-REPL client waits
  for it (mpremote after its soft reset, which on a pseudo-terminal waits
  forever) it is interrupted after 10 s, as Ctrl-C would, with a notice at the
  start of the client's command output.
* The firmware dies with the board (``PR_SET_PDEATHSIG``): a ``kill -9`` of the
  virtual board leaves no firmware behind. While it serves, ``<flash>.tty``
  links to the device, the status file says ``"running": true`` and the board
  holds a lock on ``<flash>.lock``: another virtual board is refused that flash,
  or, started with the default one, takes the next (``vboard-flash-2``, ...), so
  two boards never write one flash. ``running_boards()`` lists those that run
  with a default flash (``--port vboard``).
* ``machine.unique_id()`` is 6 bytes derived from the flash directory (the same
  from one start to the next, another for another board), given to the
  firmware in ``$HEAPTRACK_UNIQUE_ID``.

The code: protocol.py (the REPL's bytes both ways), crash.py (fatal reports,
sanitizer options), board.py (the board process and its I/O thread), main.py
(the command line).

Python API (for tests)::

    with VirtualBoard(firmware=..., flash=..., env={"HEAPTRACK_IDF_REGIONS": "SPIRAM:0x3c000000:1048576"}) as vb:
        vb.device        # /dev/pts/N
        vb.crashes       # number of firmware crashes so far
        vb.soft_resets   # soft resets (the firmware process lives on)
        vb.hard_resets   # hard resets (machine.reset(): a new firmware process)
        vb.firmware_pid  # the firmware process
        vb.log_path      # event log
"""

from .board import HARD_RESET_STATUS, RunningBoard, VirtualBoard, VirtualBoardError, running_boards
from .main import main
from .. import paths as _paths

__all__ = ["VirtualBoard", "VirtualBoardError", "main", "DEFAULT_FIRMWARE", "DEFAULT_FLASH", "HARD_RESET_STATUS",
           "RunningBoard", "running_boards"]


def __getattr__(name):
    # Computed when asked: they depend on $HEAPTRACK_FIRMWARE and where the package runs from.
    if name == "DEFAULT_FIRMWARE":
        try:
            return _paths.find_firmware()
        except _paths.FirmwareNotFound:
            root = _paths.checkout()
            return root / "build" / "host" / "micropython" if root else _paths.BUNDLED_FIRMWARE
    if name == "DEFAULT_FLASH":
        return _paths.default_flash()
    raise AttributeError(name)
