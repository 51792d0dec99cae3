"""Package list for setuptools; everything else is declared in pyproject.toml.

The host packages are discovered under host/. Two more packages are mapped from folders at
the top of the repository (see [tool.setuptools.package-dir] in pyproject.toml):

- glovecoach._firmware <- firmware/  (main.py, boot.py, glove/*.py: what `deploy` copies and
  the virtual glove runs; MicroPython code, never imported by the host)
- glovecoach._hardware <- hardware/  (only sensor_map.json; the folder's Python files are
  design scripts, not part of the installed package)
"""

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

DATA_ONLY_PACKAGES = {"glovecoach._hardware"}


class BuildPy(build_py):
    def find_package_modules(self, package, package_dir):
        if package in DATA_ONLY_PACKAGES:
            return []
        return super().find_package_modules(package, package_dir)


setup(
    packages=find_packages("host") + ["glovecoach._firmware", "glovecoach._firmware.glove",
                                       "glovecoach._hardware"],
    cmdclass={"build_py": BuildPy},
)
