"""Importing the library must never import TensorFlow (or PyTorch)."""

import subprocess
import sys


def test_no_tensorflow_on_import():
    # A fresh interpreter: this pytest process may already have imported things in another order.
    code = (
        "import sys, importlib, pkgutil\n"
        "import common, gantk, odegan, video\n"
        "for pkg in (common, gantk, odegan, video):\n"
        "    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "        if not m.name.endswith('__main__'):\n"
        "            importlib.import_module(m.name)\n"
        "import gantk._nt\n"
        "assert 'neural_tangents' in sys.modules\n"
        "banned = ('tensorflow', 'torch', 'tf2jax')\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in banned)\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_only_one_module_imports_neural_tangents():
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[1]
    importers = sorted(
        str(p.relative_to(root))
        for pkg in ("common", "gantk", "odegan", "video", "benchmarks")
        for p in (root / pkg).rglob("*.py")
        if "import neural_tangents" in p.read_text() or "from neural_tangents" in p.read_text()
    )
    assert importers == ["gantk/_nt.py"]
