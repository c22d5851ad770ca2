"""Where the host tools find the host firmware, and where a virtual board keeps its state.

The host firmware (``build/host/micropython`` of a heaptrack checkout, built by
``make``) is looked for, first found wins:

1. an explicit path: ``--firmware PATH`` (``mpheaptrack``, ``python -m
   heaptrack_host.vboard``) or ``--heaptrack-firmware=PATH`` (the pytest plugin);
2. ``$HEAPTRACK_FIRMWARE``;
3. the heaptrack checkout this package runs from (a source tree, or ``pip install -e``):
   its ``build/host/micropython``;
4. the firmware bundled with the installed package: ``pip install CHECKOUT`` of a
   checkout where ``make`` has built the firmware copies it into the package
   (``heaptrack_host/firmware/``, see setup.py).

A virtual board's state (its flash directory, log, status file, the lock it holds
on the flash while it runs and the ``vboard-flash.tty`` link to its device) lives in
the checkout's ``build/`` when run from a checkout, else in ``$XDG_STATE_HOME/heaptrack``
(``~/.local/state/heaptrack``), never inside site-packages. A second virtual board
started with the default flash while the first runs gets ``vboard-flash-2`` (and
its own ``.tty`` link, status and log), a third ``vboard-flash-3``, and so on.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Dict, Optional, Tuple

__all__ = ["FirmwareNotFound", "CHIPS", "DEFAULT_CHIP", "chip_name", "checkout", "find_firmware", "state_dir",
           "default_flash", "tty_link", "sanitizer_suppressions", "PACKAGE", "BUNDLED_FIRMWARE"]

PACKAGE = Path(__file__).resolve().parent
BUNDLED_FIRMWARE = PACKAGE / "firmware" / "micropython"
ENV_FIRMWARE = "HEAPTRACK_FIRMWARE"


# The chips a virtual board can be: the folders of boards/HOST/chips, each
# described by its chip.mk (boards/HOST/chips/README.md), which a checkout has
# and an installed package carries as chips/<name>.mk (setup.py).
DEFAULT_CHIP = "esp32s3"
CHIP_DESCRIPTION = re.compile(r"^(CHIP_\w+) *:= *(.*?)\s*$")


def _chip_descriptions() -> Dict[str, Path]:
    root = PACKAGE.parent / "boards" / "HOST" / "chips"
    if root.is_dir():
        return {p.parent.name: p for p in sorted(root.glob("*/chip.mk"))}
    return {p.stem: p for p in sorted((PACKAGE / "chips").glob("*.mk"))}


def _read_chip(path: Path) -> Dict[str, str]:
    return {m.group(1): m.group(2) for m in map(CHIP_DESCRIPTION.match, path.read_text().splitlines()) if m}


def _chips() -> Dict[str, Tuple[str, str]]:
    """chip -> (its build directory in a checkout, the make options that build it)."""
    chips = {}
    for name, path in _chip_descriptions().items():
        desc = _read_chip(path)
        make = "make" if name == DEFAULT_CHIP else "make HEAPTRACK_CHIP=%s%s" % (
            desc.get("CHIP_TARGET", name), " HEAPTRACK_PSRAM=1" if desc.get("CHIP_PSRAM") == "1" else "")
        chips[name] = ("host" if name == DEFAULT_CHIP else "host-" + name, make)
    chips.setdefault(DEFAULT_CHIP, ("host", "make"))
    return chips


CHIPS = _chips()


def chip_name(chip: Optional[str], psram: bool = False) -> str:
    """The CHIPS key of ``--chip CHIP [--psram]``; ValueError for a chip there is none of."""
    name = (chip or DEFAULT_CHIP) + ("-psram" if psram else "")
    if name not in CHIPS:
        with_psram = sorted(c[:-len("-psram")] for c in CHIPS if c.endswith("-psram"))
        raise ValueError("no virtual %s%s: the chips are %s; --psram is for %s" % (
            chip or DEFAULT_CHIP, " with PSRAM" if psram else "",
            ", ".join(sorted(c for c in CHIPS if not c.endswith("-psram"))), ", ".join(with_psram) or "none"))
    return name


class FirmwareNotFound(RuntimeError):
    """No host firmware; str() says where it was looked for and what to do (one line)."""


def checkout() -> Optional[Path]:
    """The heaptrack checkout this package runs from, or None when it is installed elsewhere."""
    root = PACKAGE.parent
    if (root / "Makefile").is_file() and (root / "boards" / "HOST").is_dir() and (root / "native").is_dir():
        return root
    return None


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def find_firmware(explicit=None, *, option: str = "--firmware PATH", chip: Optional[str] = None) -> Path:
    """The host firmware to run (see the module's docstring); FirmwareNotFound if there is none.

    option: how the caller's users name a firmware, for the error message
    ("--heaptrack-firmware=PATH" in pytest, "--firmware PATH" on the command line).
    chip: a CHIPS key other than the default: that chip's firmware, which only a
    checkout has (build/host-CHIP/micropython); an explicit path wins.
    """
    if chip not in (None, DEFAULT_CHIP) and not explicit:
        return _chip_firmware(chip)
    if explicit:
        path = Path(explicit).expanduser()
        if not _executable(path):
            raise FirmwareNotFound("no host firmware at %s (given with %s): build it with `make` in a heaptrack "
                                   "checkout (build/host/micropython)" % (path, option.split()[0].split("=")[0]))
        return path.resolve()
    env = os.environ.get(ENV_FIRMWARE)
    if env:
        path = Path(env).expanduser()
        if not _executable(path):
            raise FirmwareNotFound("no host firmware at %s (from $%s): build it with `make` in a heaptrack "
                                   "checkout (build/host/micropython)" % (path, ENV_FIRMWARE))
        return path.resolve()
    looked = []
    root = checkout()
    if root is not None:
        path = root / "build" / "host" / "micropython"
        if _executable(path):
            return path
        looked.append(str(path))
    if _executable(BUNDLED_FIRMWARE):
        return BUNDLED_FIRMWARE
    if root is not None:
        what = "no host firmware at %s: build it with `make` in %s" % (looked[0], root)
    else:
        what = ("no host firmware: this heaptrack-host was installed without one; `make` in a heaptrack "
                "checkout, then `pip install CHECKOUT` bundles it")
    raise FirmwareNotFound("%s, or pass %s (or set $%s)" % (what, option, ENV_FIRMWARE))


def _chip_firmware(chip: str) -> Path:
    build_dir, how = CHIPS[chip]
    root = checkout()
    if root is None:
        raise FirmwareNotFound("the virtual %s needs its host firmware from a heaptrack checkout (`%s`); "
                               "pass --firmware PATH" % (chip, how))
    path = root / "build" / build_dir / "micropython"
    if not _executable(path):
        raise FirmwareNotFound("no host firmware for the virtual %s at %s: build it with `%s` in %s"
                               % (chip, path, how, root))
    return path


def state_dir() -> Path:
    """Where virtual boards keep their flash, logs and status (created on use)."""
    root = checkout()
    if root is not None:
        return root / "build"
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "heaptrack"


def default_flash(n: int = 1) -> Path:
    """The flash of the n-th virtual board running at once with the default flash:
    vboard-flash, then vboard-flash-2, ..."""
    return state_dir() / ("vboard-flash" if n == 1 else "vboard-flash-%d" % n)


def tty_link(n: int = 1) -> Path:
    """The symlink to the device of the virtual board with default_flash(n) while it runs."""
    return default_flash(n).with_name(default_flash(n).name + ".tty")


def sanitizer_suppressions() -> Path:
    """The directory of the sanitizer suppression files (native/tests/*-upstream.supp)."""
    root = checkout()
    if root is not None:
        return root / "native" / "tests"
    return PACKAGE / "firmware"
