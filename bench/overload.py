"""The overload benchmark (``haven bench overload``): see ``haven/surge/overload.py`` for the method.
Writes ``bench/results/overload.json`` and ``bench/results/overload.png``."""

from haven.surge.overload import main

if __name__ == "__main__":
    raise SystemExit(main())

__all__ = ["main"]
