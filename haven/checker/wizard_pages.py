"""The eligibility check's pages: one question per page, check your answers, and the results.

Each question is a GET form. "Continue" submits to the same address with ``go=1``: with an error the
page comes back (422) with the answer kept and the problem named; otherwise the browser is sent to
the next question that applies, carrying every answer in the address. Nothing is stored anywhere.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from haven.checker import wizard
from haven.checker.explain import PROGRAMS, Words, money
from haven.checker.fields import SCORE_LABELS, Kind, Reading, scale_hint
from haven.checker.views import PageMaker, crs_view, fsw_view, other, with_query
from haven.rules import programs
from haven.rules.common import ABILITIES
from haven.web.forms import field_view
from haven.web.i18n import LANGUAGES, N_, Language
from haven.web.pagecache import CachedResponse
from haven.web.querypages import Params, QueryRoute, Render

CONTROL: Final = frozenset({"go", "return"})
NAMES: Final = wizard.FIELD_NAMES | CONTROL


@dataclass(frozen=True)
class AnswerRow:
    question: str
    answer: str
    change_href: str


# How a score could rise, one line for each of ``programs.RISES`` that would raise it.
RISES: Final = {
    "french": N_(
        "A French test (TEF Canada or TCF Canada) at NCLC 7 or higher in all four abilities: "
        "%(points)s more points"
    ),
    "canadian_work": N_("One more year of skilled work in Canada: %(points)s more points"),
    "nomination": N_(
        "A nomination from a province or territory (Provincial Nominee Program): %(points)s more points"
    ),
}


class WizardPages:
    def __init__(self, maker: PageMaker) -> None:
        self.maker = maker

    def routes(self) -> dict[str, QueryRoute]:
        routes: dict[str, QueryRoute] = {}
        for lang in LANGUAGES:
            for question in wizard.QUESTIONS:
                routes[question.path(lang)] = QueryRoute(lang, NAMES, self._question_page(lang, question))
            routes[self.check_path(lang)] = QueryRoute(lang, NAMES, self._check_page(lang))
            routes[self.results_path(lang)] = QueryRoute(lang, NAMES, self._results_page(lang), daily=True)
        return routes

    def _question_page(self, lang: Language, question: wizard.Question) -> Render:
        def render(params: Params, today: dt.date) -> CachedResponse:
            return self.question(lang, question, params)

        return render

    def _check_page(self, lang: Language) -> Render:
        def render(params: Params, today: dt.date) -> CachedResponse:
            return self.check_answers(lang, params)

        return render

    def _results_page(self, lang: Language) -> Render:
        def render(params: Params, today: dt.date) -> CachedResponse:
            return self.results(lang, params, today)

        return render

    @staticmethod
    def check_path(lang: Language) -> str:
        return f"{wizard.BASE[lang]}/{wizard.CHECK_SLUG[lang]}"

    @staticmethod
    def results_path(lang: Language) -> str:
        return f"{wizard.BASE[lang]}/{wizard.RESULTS_SLUG[lang]}"

    def _after(self, lang: Language, question: wizard.Question, answers: Params, returning: bool) -> str:
        if returning:
            pending = wizard.first_unanswered(answers)
            if pending is None:
                return self.check_path(lang)
            return pending.path(lang)
        following = wizard.next_after(question, answers)
        return following.path(lang) if following is not None else self.check_path(lang)

    def question(self, lang: Language, question: wizard.Question, params: Params) -> CachedResponse:
        words = self.maker.words(lang)
        returning = params.get("return") == "check"
        answers = {name: value for name, value in params.items() if name not in CONTROL}
        reading: Reading | None = None
        if params.get("go") == "1":
            reading = question.read(answers, words)
            if not reading.errors:
                merged = wizard.prune({**answers, **reading.answers})
                if returning:
                    merged["return"] = "check"
                return self.maker.go(self._after(lang, question, merged, returning), merged)
        own = {spec.name for spec in question.fields}
        hidden = {name: value for name, value in wizard.prune(answers).items() if name not in own}
        if returning:
            hidden["return"] = "check"
        previous = wizard.previous_before(question, answers)
        if returning:
            back = with_query(self.check_path(lang), wizard.prune(answers))
        elif previous is not None:
            back = with_query(previous.path(lang), wizard.prune(answers))
        else:
            back = self.maker.site.library.get(lang, "check-eligibility").path
        number, count = wizard.position(question)
        fields = question.fields_for(answers)
        title = words(question.title_for(answers))
        scores_hint = None
        if question.test_answer is not None and answers.get(question.test_answer, "none") != "none":
            scores_hint = scale_hint(answers[question.test_answer], words)
        views = [field_view(spec, answers, reading, words) for spec in fields]
        return self.maker.render(
            lang,
            "checker/question.html",
            title=title,
            path=question.path(lang),
            other_path=question.path(other(lang)),
            params=params,
            errors=reading.errors if reading else (),
            fields=views,
            single=len(views) == 1
            and views[0].kind in (Kind.RADIO.value, Kind.NUMBER.value, Kind.MONEY.value),
            scores_hint=scores_hint,
            hidden=hidden,
            action=question.path(lang),
            back_href=back,
            caption=words(wizard.SEQUENCES[question.sequence]),
            number=number,
            count=count,
        )

    def _rows(self, lang: Language, answers: Params, words: Words) -> list[tuple[str, list[AnswerRow]]]:
        groups: dict[str, list[AnswerRow]] = {}
        for question in wizard.applicable(answers):
            change = {**answers, "return": "check"}
            groups.setdefault(question.sequence, []).append(
                AnswerRow(
                    question=words(question.title_for(answers)),
                    answer=self._answer_text(question, answers, words),
                    change_href=with_query(question.path(lang), change),
                )
            )
        return [(words(wizard.SEQUENCES[sequence]), rows) for sequence, rows in groups.items()]

    @staticmethod
    def _answer_text(question: wizard.Question, answers: Mapping[str, str], words: Words) -> str:
        if question.test_answer is not None:
            parts = [
                f"{words(SCORE_LABELS[ability])} {answers.get(spec.name, '')}"
                for spec, ability in zip(question.fields, ABILITIES, strict=True)
            ]
            return ", ".join(parts)
        texts = []
        for spec in question.fields_for(answers):
            raw = answers.get(spec.name, "")
            if spec.kind is Kind.RADIO:
                option = next((o for o in spec.options if o.value == raw), None)
                texts.append(words(option.label) if option else raw)
            elif spec.kind is Kind.MONEY and raw.isdigit():
                texts.append(money(int(raw), words.lang))
            else:
                texts.append(raw)
        return ", ".join(texts)

    def check_answers(self, lang: Language, params: Params) -> CachedResponse:
        words = self.maker.words(lang)
        answers = wizard.prune({k: v for k, v in params.items() if k not in CONTROL})
        broken = wizard.validate_all(answers, words)
        if broken is not None:
            return self.maker.go(broken.path(lang), answers)
        return self.maker.render(
            lang,
            "checker/check_answers.html",
            title=words(N_("Check your answers")),
            path=self.check_path(lang),
            other_path=self.check_path(other(lang)),
            params=answers,
            groups=self._rows(lang, answers, words),
            results_href=with_query(self.results_path(lang), answers),
            back_href=with_query(wizard.applicable(answers)[-1].path(lang), answers),
        )

    def results(self, lang: Language, params: Params, today: dt.date) -> CachedResponse:
        words = self.maker.words(lang)
        answers = wizard.prune({k: v for k, v in params.items() if k not in CONTROL})
        broken = wizard.validate_all(answers, words)
        if broken is not None:
            return self.maker.go(broken.path(lang), answers)
        applicant = wizard.answers_to_applicant(answers)
        outcome = programs.assess(applicant, as_of=today)
        rises = programs.rises(applicant, as_of=today) if outcome.crs is not None else []
        library = self.maker.site.library
        return self.maker.render(
            lang,
            "checker/results.html",
            title=words(N_("Your results")),
            path=self.results_path(lang),
            other_path=self.results_path(other(lang)),
            params=answers,
            outcome=outcome,
            program_names={program: words(name) for program, name in PROGRAMS.items()},
            reasons=[
                (program, [words.reason(program.program.value, r) for r in program.unmet])
                for program in outcome.programs
            ],
            met=[
                (program, [words.reason(program.program.value, r) for r in program.requirements])
                for program in outcome.programs
                if program.eligible
            ],
            pointers=[
                (library.get(lang, pointer.route.value), words.pointer(pointer.reason))
                for pointer in outcome.pointers
            ],
            crs_sections=crs_view(outcome.crs, words) if outcome.crs is not None else [],
            rises=[words(RISES[what]) % {"points": points} for what, points in rises],
            fsw_rows=fsw_view(outcome.fsw_grid, words) if outcome.fsw_grid is not None else [],
            change_href=with_query(self.check_path(lang), answers),
            express_entry=library.get(lang, "express-entry"),
            today=today,
        )
