"""Every docstring example of the four packages runs and prints what it shows.

One test per module, found by walking the packages, so a module added later is covered without
being listed here (its `>>>` examples are documentation that must stay true).
"""

import doctest
import importlib
import pkgutil

import pytest

PACKAGES = ("common", "gantk", "odegan", "video")


def _modules() -> list[str]:
    names = []
    for package in PACKAGES:
        path = importlib.import_module(package).__path__
        names += [package] + [m.name for m in pkgutil.walk_packages(path, f"{package}.")]
    return [n for n in names if not n.endswith("__main__")]  # command lines, not libraries


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
