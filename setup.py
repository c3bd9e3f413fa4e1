"""The import package `seedrl` is the `services/` folder (see pyproject.toml)."""

from setuptools import find_packages, setup

setup(packages=["seedrl", *(f"seedrl.{name}" for name in find_packages("services"))])
