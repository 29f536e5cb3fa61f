"""The wheel holds a compiled library, so it is a platform wheel; any
Python 3 loads it through its sqlite3 module, so it is tagged
py3-none-<platform>: bound to the machine, not to a Python version or ABI."""
import os
import sys

from setuptools import Distribution, setup
from wheel.bdist_wheel import bdist_wheel

if not os.path.exists(os.path.join(os.path.dirname(os.path.abspath(__file__)), "sqlml", "sqlml.so")):
    sys.exit("sqlml/sqlml.so is missing: build the wheel with `make python-package`")


class BinaryDistribution(Distribution):
    def has_ext_modules(self):
        return True


class PlatformWheel(bdist_wheel):
    def get_tag(self):
        return "py3", "none", super().get_tag()[2]


setup(distclass=BinaryDistribution, cmdclass={"bdist_wheel": PlatformWheel})
