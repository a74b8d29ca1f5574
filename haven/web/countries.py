"""Countries and territories to choose from, named in each language: ISO 3166-1 codes with the names
of the Unicode CLDR (through Babel), sorted as people read them (without regard to accents).

Answers keep the code ("NG"), so an answer given in one language reads right in the other. CLDR
also names regions that are not ISO 3166-1 countries (the European Union, Ascension Island,
"Unknown Region"): they are left out."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Final

from babel import Locale

from haven.web.i18n import LOCALES, N_, Language, fold, translations

# CLDR codes that are not ISO 3166-1 countries: groupings, pseudo-locales, and parts of a country.
NOT_COUNTRIES: Final = frozenset(
    ["AC", "CP", "CQ", "DG", "EA", "EU", "EZ", "IC", "QO", "TA", "UN", "XA", "XB", "ZZ"]
)
STATELESS: Final = "stateless"


@functools.cache
def countries(lang: Language) -> Mapping[str, str]:
    """Code → name in ``lang``, in the order of the names."""
    names = Locale.parse(LOCALES[lang]).territories
    chosen = [(code, name) for code, name in names.items() if _is_country(code)]
    return dict(sorted(chosen, key=lambda item: fold(item[1])))


@functools.cache
def citizenships(lang: Language) -> Mapping[str, str]:
    """The countries, and being stateless (last: nobody looks for it among the S's)."""
    return {**countries(lang), STATELESS: translations(lang).gettext(N_("Stateless (no citizenship)"))}


def _is_country(code: str) -> bool:
    return len(code) == 2 and code.isalpha() and code.isupper() and code not in NOT_COUNTRIES
