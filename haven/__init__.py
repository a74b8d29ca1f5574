"""Haven: a bilingual immigration portal that stays up when everyone shows up at once."""

__version__ = "0.1.0"
