"""Packaging beyond pyproject.toml: `pip install CHECKOUT` bundles the host firmware.

When `make` has built the host firmware (build/host/micropython) in this
checkout, a non-editable install copies it, and the sanitizer suppression files
the virtual board passes to a sanitized firmware, into heaptrack_host/firmware/,
so the pytest plugin and `mpheaptrack --vboard` work in any project without a
path to this checkout (heaptrack_host/paths.py); and the virtual board's chips'
descriptions (boards/HOST/chips/*/chip.mk) into heaptrack_host/chips/. The wheel is then
platform-specific (the firmware is a Linux binary). Without a built firmware the
package installs without one and says what to do when a virtual board is asked for.
setuptools' own build files go to build/python/, beside the firmware builds.
"""
import os
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

ROOT = Path(__file__).resolve().parent
FIRMWARE = ROOT / "build" / "host" / "micropython"
SUPPRESSIONS = sorted((ROOT / "native" / "tests").glob("*-upstream.supp"))
CHIPS = sorted((ROOT / "boards" / "HOST" / "chips").glob("*/chip.mk"))


def _bundle():
    return FIRMWARE.is_file() and os.access(FIRMWARE, os.X_OK)


class BuildPy(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install finds the checkout's build itself
        # The virtual board's chips (paths.CHIPS), with or without a firmware.
        chips = Path(self.build_lib) / "heaptrack_host" / "chips"
        chips.mkdir(parents=True, exist_ok=True)
        for desc in CHIPS:
            shutil.copy2(desc, chips / (desc.parent.name + ".mk"))
        if not _bundle():
            return
        target = Path(self.build_lib) / "heaptrack_host" / "firmware"
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy2(FIRMWARE, target / "micropython")
        for supp in SUPPRESSIONS:
            shutil.copy2(supp, target / supp.name)


class BinaryDistribution(Distribution):
    def has_ext_modules(self):
        return _bundle()


setup(cmdclass={"build_py": BuildPy}, distclass=BinaryDistribution,
      options={"build": {"build_base": "build/python"}})
