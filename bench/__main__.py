"""``make bench``: every benchmark in turn; each writes its figures to bench/results/."""

from __future__ import annotations

from bench import accounts, checker, content, costs, overload, profile_applicant, rounds, shield, waiting

if __name__ == "__main__":
    content.main([])
    checker.main([])
    accounts.main([])
    costs.main([])  # about 2 minutes: the table of haven/shield/costs.py
    profile_applicant.main([])  # where an applicant journey's CPU goes
    rounds.main([])  # about 8 minutes: pools of 100,000 and 1,000,000 on SQLite and PostgreSQL
    shield.main([])
    waiting.main([])  # several minutes: the election night in simulation
    overload.main([])  # the longest: about an hour
