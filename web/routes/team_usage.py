"""The team console: usage (a chart, a table and a CSV of the API's usage history) and Go to
Production (the application form, its status and what happens next).

Both ask the domain exactly as the API's routes do (``api/routes/usage.py``,
``api/routes/production.py``): the same bounds, permissions and refusals."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from math import ceil
from typing import Any, NamedTuple

from fastapi import Request, Response
from markupsafe import Markup, escape

from api.deps import ServicesDep, UowDep
from api.schemas import ProductionApplicationRequest
from domain import production, usage
from domain.clock import utcnow
from domain.errors import DomainError
from domain.models import ProductionStatus
from domain.usage import UsageRow
from web.pages import (
    Form,
    Invalid,
    form_error,
    page_router,
    parse,
    refused_form,
    status_of_refusal,
)
from web.render import counted, redirect, render
from web.team import MyTeam, TeamPage, section_page

router = page_router()

# --- usage ------------------------------------------------------------------------------------

#: The chart's series colours (a series is a model and key kind), in order of first use.
PALETTE = ("#1f6feb", "#bf8700", "#1a7f37", "#cf222e", "#8250df", "#0a7e8c", "#953800", "#57606a")
#: The chart's frame: its size and the room left for the axes' labels (on the left, at least
#: ``LEFT``: :func:`left_margin` widens it for the widest tick label).
WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 720, 220, 48, 16, 12, 44
#: The y axis's title stands rotated at ``TITLE_X``, within a band ``TITLE_BAND`` wide at the
#: chart's left edge; tick labels end ``TICK_GAP`` before the plot, and a character of theirs
#: is at most ``CHAR_WIDTH`` wide (a 12 px digit is 0.64 em in the widest common sans fonts).
TITLE_X, TITLE_BAND, TICK_GAP, CHAR_WIDTH = 14, 24, 6, 8


@dataclass(frozen=True)
class Chosen:
    """The range asked for (as typed) and the one shown (the domain's defaults filled in)."""

    typed: dict[str, str]
    start: date | None
    end: date | None

    @property
    def shown(self) -> tuple[date, date]:
        end = self.end or utcnow().date()
        return (self.start or end - usage.DEFAULT_SPAN), end


def chosen_range(query: Mapping[str, str]) -> Chosen:
    """``from`` and ``to`` (ISO dates, either may be left empty) as the API reads ``start`` and
    ``end``: a date that is not one is 422, beside its field."""
    typed = {name: query.get(name, "").strip() for name in ("from", "to")}
    days: dict[str, date | None] = {}
    problems: dict[str, str] = {}
    for name, text in typed.items():
        try:
            days[name] = date.fromisoformat(text) if text else None
        except ValueError:
            problems[name] = "Input should be a valid date in the format YYYY-MM-DD"
    if problems:
        raise Invalid(problems)
    return Chosen(typed, days["from"], days["to"])


def history(uow: UowDep, team: TeamPage, chosen: Chosen) -> list[UsageRow]:
    """``GET /v1/teams/{id}/usage``'s call, with the same arguments."""
    return usage.usage_history(
        uow.session, team.account, team.team_id, start=chosen.start, end=chosen.end
    )


@dataclass(frozen=True)
class Series:
    model: str
    key_kind: str
    colour: str

    @property
    def label(self) -> str:
        return f"{self.model} · {self.key_kind}"


class Bar(NamedTuple):
    """One series' part of one day's bar (a tuple: a year makes thousands)."""

    x: float
    y: float
    width: float
    height: float
    colour: str
    title: str


@dataclass(frozen=True)
class Day:
    day: date
    total: int
    bars: list[Bar]

    def markup(self) -> str:
        """This day's ``<g>`` of stacked bars. Written here rather than looped in the
        template: a year has a thousand bars and more, and Jinja's loop was most of the page's
        time. Every value is escaped (``escape``)."""
        bars = "".join(
            f'<rect x="{b.x:.2f}" y="{b.y:.2f}" width="{b.width:.2f}" height="{b.height:.2f}" '
            f'fill="{escape(b.colour)}"><title>{escape(b.title)}</title></rect>'
            for b in self.bars
        )
        return f'<g class="day" data-day="{self.day}" data-total="{self.total}">{bars}</g>'


@dataclass(frozen=True)
class Chart:
    """One measure drawn as stacked bars per day: geometry only, the markup is templated."""

    slug: str
    measure: str
    description: str
    days: list[Day]
    y_ticks: list[tuple[float, str]]
    x_ticks: list[tuple[float, str]]
    left: int
    width: int = WIDTH
    height: int = HEIGHT
    title_x: int = TITLE_X
    tick_gap: int = TICK_GAP
    top: int = TOP
    bottom: float = HEIGHT - BOTTOM
    right: int = WIDTH - RIGHT

    @property
    def bars(self) -> Markup:
        """Every day's bars, escaped value by value (:meth:`Day.markup`)."""
        return Markup("".join(day.markup() for day in self.days))  # noqa: S704


def series_of(rows: list[UsageRow]) -> list[Series]:
    seen: dict[tuple[str, str], Series] = {}
    for row in rows:
        key = (row.model, str(row.key_kind))
        if key not in seen:
            seen[key] = Series(row.model, str(row.key_kind), PALETTE[len(seen) % len(PALETTE)])
    return list(seen.values())


def nice_top(peak: int) -> int:
    """The y axis's top: four equal whole steps of 1, 2 or 5 times a power of ten, at
    least ``peak`` (so every tick's label is exact)."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if 4 * step * factor >= peak:
                return 4 * step * factor
        step *= 10


def left_margin(labels: list[str]) -> int:
    """Room on the left for the y axis's title and its widest tick label, side by side."""
    widest = max((len(label) for label in labels), default=0)
    return max(LEFT, ceil(TITLE_BAND + CHAR_WIDTH * widest + TICK_GAP))


def chart(
    slug: str,
    noun: str,
    rows: list[UsageRow],
    series: list[Series],
    span: tuple[date, date],
    value: Any,
) -> Chart:
    """``noun`` per day (``call``: "Calls per day"), stacked by series."""
    measure = f"{noun.capitalize()}s"
    start, end = span
    count = (end - start).days + 1
    colour = {(s.model, s.key_kind): s for s in series}
    by_day: dict[date, list[UsageRow]] = {}
    for row in rows:
        by_day.setdefault(row.date, []).append(row)
    peak = max((sum(value(r) for r in day) for day in by_day.values()), default=0)
    top = nice_top(max(peak, 1))
    labels = [f"{top * part // 4:,}" for part in range(5)]
    left = left_margin(labels)
    plot_width, plot_height = WIDTH - left - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_width / count
    days = []
    for day, day_rows in sorted(by_day.items()):
        x = left + (day - start).days * slot + slot * 0.1
        base = float(TOP + plot_height)
        bars = []
        for row in day_rows:
            amount = value(row)
            height = plot_height * amount / top
            base -= height
            one = colour[(row.model, str(row.key_kind))]
            bars.append(
                Bar(
                    x,
                    base,
                    max(slot * 0.8, 1),
                    height,
                    one.colour,
                    f"{day}: {one.label}, {counted(amount, noun)}",
                )
            )
        days.append(Day(day, sum(value(r) for r in day_rows), bars))
    y_ticks = [
        (round(TOP + plot_height * (1 - part / 4), 2), label) for part, label in enumerate(labels)
    ]
    every = max(1, -(-count // 6))
    x_ticks = [
        (round(left + (i + 0.5) * slot, 2), (start + timedelta(days=i)).strftime("%b %d"))
        for i in range(0, count, every)
    ]
    total = sum(d.total for d in days)
    description = (
        f"{measure} per day from {start} to {end} (UTC), a bar per day stacked by model and key "
        f"kind: {counted(total, noun)} in all over {counted(len(days), 'day')} with usage"
        + (f"; the busiest day had {counted(peak, noun)}." if days else ".")
        + " The table below has every figure."
    )
    return Chart(slug, measure, description, days, y_ticks, x_ticks, left)


def table_rows(rows: list[UsageRow]) -> Markup:
    """The table's body rows, written here for the same reason as :meth:`Day.markup`; every
    value is escaped."""
    return Markup(  # noqa: S704
        "".join(
            f"<tr><td>{r.date}</td><td>{escape(r.model)}</td><td>{escape(r.key_kind)}</td>"
            f'<td class="num">{r.calls}</td><td class="num">{r.input_tokens}</td>'
            f'<td class="num">{r.output_tokens}</td></tr>'
            for r in rows
        )
    )


def totals(rows: list[UsageRow]) -> dict[str, int]:
    return {
        "calls": sum(r.calls for r in rows),
        "input_tokens": sum(r.input_tokens for r in rows),
        "output_tokens": sum(r.output_tokens for r in rows),
    }


def usage_page(request: Request, team: TeamPage, status: int = 200, **context: Any) -> Response:
    return section_page(request, team, "usage", "Usage", status, **context)


@router.get("/team/usage")
def usage_view(request: Request, uow: UowDep, team: MyTeam) -> Response:
    """Calls and tokens per day by model and key kind: two charts, a table and a CSV link."""
    typed = {name: request.query_params.get(name, "") for name in ("from", "to")}
    try:
        chosen = chosen_range(request.query_params)
        rows = history(uow, team, chosen)
    except (DomainError, Invalid) as refused:
        return refused_form(
            request, "team/usage.html", refused, title="Usage", team=team, section="usage",
            values=typed,
        )  # fmt: skip
    span = chosen.shown
    series = series_of(rows)
    return usage_page(
        request,
        team,
        values={"from": span[0].isoformat(), "to": span[1].isoformat()},
        span=span,
        rows=rows,
        series=series,
        charts=[
            chart("calls", "call", rows, series, span, lambda r: r.calls),
            chart(
                "tokens", "token", rows, series, span, lambda r: r.input_tokens + r.output_tokens
            ),
        ],
        totals=totals(rows),
        table=table_rows(rows),
        csv_query=f"from={span[0].isoformat()}&to={span[1].isoformat()}",
    )


#: A spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_STARTS) else text


@router.get("/team/usage.csv")
def usage_csv(request: Request, uow: UowDep, team: MyTeam) -> Response:
    """The table's figures as CSV, with a header row; the same range and refusals."""
    try:
        chosen = chosen_range(request.query_params)
    except Invalid as refused:
        return render(
            request, "error.html", 422, title="Not done",
            error=DomainError(next(iter(refused.fields.values()))),
        )  # fmt: skip
    rows = history(uow, team, chosen)  # a refusal is the error page, with the API's status
    start, end = chosen.shown
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["date", "model", "key_kind", "calls", "input_tokens", "output_tokens"])
    for row in rows:
        writer.writerow(
            [row.date.isoformat(), cell(row.model), str(row.key_kind), row.calls,
             row.input_tokens, row.output_tokens]
        )  # fmt: skip
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="usage-{start}-to-{end}.csv"'},
    )


# --- Go to Production -------------------------------------------------------------------------

#: The statuses in which an owner may (still or again) apply.
MAY_APPLY = (ProductionStatus.NONE, ProductionStatus.REJECTED)


def production_page(
    request: Request,
    uow: UowDep,
    services: ServicesDep,
    team: TeamPage,
    status: int = 200,
    **context: Any,
) -> Response:
    """The status and reasons (``GET .../production-application``), what happens next, and
    for an owner whose team may apply, the form."""
    latest = production.latest_application(uow.session, team.account, team.team_id)
    current = ProductionStatus(latest.status) if latest else ProductionStatus.NONE
    context.setdefault("values", {})
    return section_page(
        request,
        team,
        "production",
        "Go to Production",
        status,
        latest=latest,
        current=current,
        show_form=team.is_owner and current in MAY_APPLY,
        manual_review_above=services.review_policy.manual_review_above,
        **context,
    )


@router.get("/team/production")
def production_view(request: Request, uow: UowDep, services: ServicesDep, team: MyTeam) -> Response:
    return production_page(request, uow, services, team)


@router.post("/team/production")
def production_apply(
    request: Request, form: Form, uow: UowDep, services: ServicesDep, team: MyTeam
) -> Response:
    """``POST /v1/teams/{id}/production-application``: the same body, the same refusals
    (a user is refused by the domain, 403, as over the API)."""
    try:
        body = parse(
            ProductionApplicationRequest, form, accept_terms=form.get("accept_terms") == "yes"
        )
        production.submit_application(
            uow.session,
            team.account,
            team.team_id,
            production.Application(**body.model_dump(mode="json", exclude={"accept_terms"})),
        )
        uow.commit()
    except (DomainError, Invalid) as refused:
        shown = form_error(refused)
        if "accept_terms" in shown["fields"]:
            shown["fields"]["accept_terms"] = "Accept the terms to apply."
        values = {name: form.get(name, "") for name in ProductionApplicationRequest.model_fields}
        return production_page(
            request, uow, services, team, status_of_refusal(refused), values=values, **shown
        )
    return redirect("/team/production?done=submitted")
