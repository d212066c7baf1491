"""Import a module of the book's _ext/ folder (a Sphinx extension) in a test."""
import importlib
import sys
from pathlib import Path

EXT = Path(__file__).resolve().parents[1] / "_ext"


def load(name):
    if str(EXT) not in sys.path:
        sys.path.insert(0, str(EXT))
    return importlib.import_module(name)
