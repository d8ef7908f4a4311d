"""``report.html`` of a performance run: one self-contained page (styles and plots inline).

Rendered with Jinja2 (autoescaping on) from ``templates/perf.html.j2``; it reuses the run
report's stylesheet (``tfsverify/report/templates/report.css``) so both reports look alike.
Pure: it reads the results document (and the baseline's, for the dashed baseline curves).

Elements a browser test or a script can rely on: ``#run`` (``data-verdict``: regression /
no-regression / not-compared), ``#comparison-table`` with one ``tr.metric`` per metric
(``data-verdict``, ``data-metric``, ``data-regression``), and one ``section.part`` per part
(``id="part-<name>"``) holding ``figure.plot`` with inline ``svg.plot-svg``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

from jinja2 import Environment
from markupsafe import Markup

import tfsverify
from tfsverify.perf import report_plots as plots
from tfsverify.perf import report_view as view
from tfsverify.perf.report_plots_compare import changes_svg, distributions_svg
from tfsverify.report.html import template_environment

TEMPLATE = "perf.html.j2"
Doc = Mapping[str, Any]


def render_html(document: Doc, baseline: Doc | None = None) -> str:
    """The HTML report of a results document (with its comparison, if any)."""
    verdict, sentence = view.headline(document)
    figures: dict[str, list[dict[str, Any]]] = {}
    specs: list[tuple[str, str, str, Callable[[], str | None]]] = [
        ("comparison", "changes", "Each compared metric's change with its confidence interval.",
         lambda: changes_svg(document.get("comparison") or {}, "cmp-changes")),
        ("distributions", "distributions",
         "Latency against percentile for each measured sample; the baseline's dashed.",
         lambda: distributions_svg(document, baseline, "cmp-dist")),
        ("sweep", "latency", "p50/p90/p99 per step (dots: each repetition's p99).",
         lambda: plots.sweep_latency_svg(document, baseline, "sweep-latency")),
        ("sweep", "throughput", "Answered requests/s against offered; the knee marked.",
         lambda: plots.throughput_svg(document, baseline, "sweep-throughput")),
        ("ramp", "ramp", "Per-second latency against the rate offered in that second.",
         lambda: plots.ramp_svg(document, "ramp")),
        ("spike", "spike", "p99 per second, the spike shaded, recovery marked.",
         lambda: plots.spike_svg(document, "spike")),
        ("soak", "soak", "Latency per second and resident memory of every container.",
         lambda: plots.soak_svg(document, "soak")),
        ("mesh", "mesh", "The same load direct to the model server and through its sidecar.",
         lambda: plots.mesh_svg(document, "mesh")),
    ]
    for part, kind, caption, draw in specs:
        svg = draw()
        if svg is not None:
            figures.setdefault(part, []).append(
                {"kind": kind, "caption": caption, "svg": Markup(svg)})
    comparison = document.get("comparison")
    return _environment().get_template(TEMPLATE).render(
        doc=document,
        parts=document.get("parts", {}),
        verdict=verdict,
        verdict_slug=verdict.replace(" ", "-"),
        sentence=sentence,
        figures=figures,
        key_figures=view.key_figures(document),
        rows=view.comparison_rows(document),
        comparison=comparison,
        bench=document.get("engine_benchmark"),
        environment=sorted(document.get("environment", {}).items()),
        version=tfsverify.__version__,
    )


@cache
def _environment() -> Environment:
    env = template_environment("tfsverify.perf")
    env.filters["num"] = view.format_number
    return env
