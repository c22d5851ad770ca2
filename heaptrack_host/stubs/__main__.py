"""python -m heaptrack_host.stubs [--time DIR]: prints where the stubs are, or writes
MicroPython's time stub to DIR/time.pyi (see the package's docstring)."""
import argparse
import shutil
import sys
from pathlib import Path

from . import PATH


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m heaptrack_host.stubs",
                                 description="Where heaptrack's typed stubs for on-board scripts are.")
    ap.add_argument("--time", metavar="DIR", help="write MicroPython's time stub to DIR/time.pyi "
                    "(pyright reads typings/ by default; mypy: mypy_path = DIR)")
    args = ap.parse_args(argv)
    if args.time is None:
        print(PATH)
        return 0
    target = Path(args.time)
    try:
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(PATH / "time.pyi", target / "time.pyi")
    except OSError as e:
        print("heaptrack_host.stubs: error: cannot write %s: %s" % (target / "time.pyi", e.strerror or e),
              file=sys.stderr)
        return 2
    print(target / "time.pyi")
    return 0


sys.exit(main())
