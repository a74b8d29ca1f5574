"""``make bench``: every benchmark in turn; each writes its figures to bench/results/."""

from __future__ import annotations

from bench import accounts, checker, content, overload, shield, waiting

if __name__ == "__main__":
    content.main([])
    checker.main([])
    accounts.main([])
    shield.main([])
    waiting.main([])  # several minutes: the election night in simulation
    overload.main([])  # the longest: about 45 minutes
