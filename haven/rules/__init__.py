"""Pure immigration rules: no I/O, no clock, no web. Dates come in as arguments; tables are data,
dated by the day they took effect. Every result carries the ``rules_version`` it was computed with.

Facts and their sources: ``shared/reference/immigration-rules.md`` (sections noted beside each table).
"""
