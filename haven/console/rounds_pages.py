"""The console's rounds of invitations: every round run, and a form to run one (what ``haven rounds
draw`` does), shown first as a dry run (how many would be invited, the lowest score), then run when
the operator confirms, and written to the audit log."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Final

from fastapi.responses import Response

from haven.checker.fields import FormError
from haven.console.pages import ConsolePage, moment
from haven.console.paths import path
from haven.rounds.public import KIND_LABELS, tie_break_text
from haven.rounds.service import RoundRecord, round_day
from haven.rules.categories import table_on
from haven.rules.common import RulesError
from haven.rules.rounds import RoundError, RoundProgram, spec
from haven.web.i18n import N_, Language

ROUNDS: Final = N_("Rounds of invitations")
MAX_SIZE: Final = 100_000
# How long a dry run stands: confirming later asks the operator to look again.
PREVIEW_FOR: Final = dt.timedelta(minutes=15)
SHOWN: Final = 50  # rounds listed, the latest first
MESSAGES: Final = {
    "size": N_("Enter how many people to invite: a whole number from 1 to 100,000"),
    "kind": N_("Choose who the round is for"),
    "stale": N_("The dry run is more than 15 minutes old: look at the round again before you run it"),
}


@dataclass(frozen=True)
class Kind:
    value: str  # "general", "program:cec", "category:french"…
    label: str


def kinds(page: ConsolePage, day: dt.date) -> list[Kind]:
    """Who a round may be for on ``day``: all programs, one program, or one of the day's categories."""
    _ = page.gettext
    found = [Kind("general", _(KIND_LABELS["general"]))]
    found += [Kind(f"program:{program.value}", _(KIND_LABELS[program.value])) for program in RoundProgram]
    dated = table_on(day)
    if dated is not None:
        found += [Kind(f"category:{c.key}", c.title(page.lang)) for c in dated.table.categories]
    return found


def label_of(record: RoundRecord, page: ConsolePage) -> str:
    if record.category is not None:
        dated = table_on(round_day(record.at))
        category = dated.table.get(record.category) if dated is not None else None
        return category.title(page.lang) if category is not None else record.category
    return page.gettext(KIND_LABELS[record.key])


def row(record: RoundRecord, page: ConsolePage, lang: Language) -> dict[str, Any]:
    return {
        "id": record.id,
        "at": moment(record.at, lang),
        "kind": label_of(record, page),
        "size": record.size,
        "invited": record.invited,
        "cutoff": "–" if record.cutoff is None else record.cutoff,
        "tie_break": tie_break_text(record.tie_break, lang),
    }


async def listing(page: ConsolePage, **context: Any) -> Response:
    operator = context.pop("operator")
    records = (await page.app.rounds.all())[:SHOWN]
    now = page.app.clock.now()
    done = page.request.query_params.get("done", "")
    latest = next((record for record in records if record.id == done), None)
    return page.render(
        "console/rounds.html",
        ROUNDS,
        "rounds",
        operator=operator,
        rows=[row(record, page, page.lang) for record in records],
        kinds=kinds(page, round_day(now)),
        done=row(latest, page, page.lang) if latest is not None else None,
        **{"errors": [], "values": {}, **context},
    )


async def rounds_page(page: ConsolePage) -> Response:
    operator = await page.operator()
    if operator is None:
        return page.sign_in_first()
    return await listing(page, operator=operator)


def _size(raw: str) -> int:
    text = raw.strip().replace(",", "").replace("\u00a0", "").replace(" ", "")
    if not text.isdigit() or not 1 <= int(text) <= MAX_SIZE:
        raise RoundError("size", "size")
    return int(text)


async def run_round(page: ConsolePage) -> Response:
    """A round asked for (its dry run, to confirm) or confirmed (run, and written to the log)."""
    found = await page.operator_and_form()
    if isinstance(found, Response):
        return found
    operator, form = found
    _ = page.gettext
    values = {name: form.get(name, "") for name in ("size", "kind", "at")}
    now = page.app.clock.now()
    confirmed = form.get("confirmed") == "yes"
    at = now
    try:
        size = _size(values["size"])
        kind = values["kind"]
        if kind not in {choice.value for choice in kinds(page, round_day(now))}:
            raise RoundError("kind", "kind")
        if confirmed:
            try:
                at = dt.datetime.fromisoformat(values["at"])
            except ValueError:
                raise RoundError("stale", "stale") from None
            if at.tzinfo is None or not now - PREVIEW_FOR <= at <= now:
                raise RoundError("stale", "stale")
        program = kind.split(":", 1)[1] if kind.startswith("program:") else None
        category = kind.split(":", 1)[1] if kind.startswith("category:") else None
        round_spec = spec(size, at, round_day(at), program=program, category=category)
    except (RoundError, RulesError) as error:
        field = getattr(error, "field", "kind")
        message = _(MESSAGES.get(field, MESSAGES["kind"]))
        return await listing(
            page,
            operator=operator,
            status=422,
            errors=[FormError("size" if field == "size" else "kind", message)],
            values=values,
        )
    if not confirmed:
        preview = await page.app.rounds.draw(round_spec, now=now, dry_run=True)
        lowest = preview.chosen[-1].score if preview.chosen else None
        return page.render(
            "console/round_confirm.html",
            N_("Run this round?"),
            "rounds",
            operator=operator,
            values={**values, "at": at.isoformat()},
            kind_label=next(choice.label for choice in kinds(page, round_day(now)) if choice.value == kind),
            size=size,
            would_invite=len(preview.chosen),
            lowest=lowest,
            at_text=moment(at, page.lang),
        )
    result = await page.app.rounds.draw(round_spec, now=now)
    await page.app.operators.record(operator, "round-drawn", None, result.round.as_json(), page.address)
    board = page.app.board
    if board is not None:  # this worker's public page at once; the others within seconds
        await board.poll(page.app.rounds)
    return page.redirect(f"{path('rounds', page.lang)}?done={result.round.id}")
