"""``report.html``: one self-contained page (styles and plots inline, nothing fetched).

Rendered with Jinja2 from ``templates/report.html.j2`` with autoescaping on, so every
string from the document (names, details, outputs) is shown as text, never run as markup.
The only markup passed through unescaped is the plots' SVG, which matplotlib escapes itself.

Elements a browser test or a script can rely on:

* ``#run`` (``data-verdict``: pass / breach / error) with ``#overall-verdict``;
* ``#verdicts`` holding ``#verdict-table``; each row ``tr.verdict`` with ``data-verdict``
  (pass / fail), ``data-experiment`` and ``data-check`` (``<window>.<assertion>``);
* ``section.experiment`` per experiment (``id="exp-<slug>"``, ``data-verdict``), holding
  ``figure.plot.plot-latency`` and ``figure.plot.plot-throughput`` (each an inline
  ``svg.plot-svg`` with ``<title>``), ``ul.touched`` and ``table.timeline``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from typing import Any

from jinja2 import ChoiceLoader, Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

import tfsverify
from tfsverify.report import formatting
from tfsverify.report.digest import ExperimentDigest, digest_run
from tfsverify.report.plots import latency_svg, throughput_svg

TEMPLATE = "report.html.j2"


def render_html(document: Mapping[str, Any]) -> str:
    """The HTML report of a checked results document."""
    run = digest_run(document)
    slugs = _slugs([exp.name for exp in run.experiments])
    experiments = [
        {"digest": exp, "slug": slug, "plots": _plots(exp, slug)}
        for exp, slug in zip(run.experiments, slugs, strict=True)
    ]
    return (
        _environment()
        .get_template(TEMPLATE)
        .render(
            run=run,
            experiments=experiments,
            schema_version=document.get("schema_version"),
            version=tfsverify.__version__,
        )
    )


def _plots(exp: ExperimentDigest, slug: str) -> list[dict[str, Any]]:
    plots = []
    for kind, caption, draw in (
        ("latency", "Latency per second: p50, p99 and max of answered requests.", latency_svg),
        (
            "throughput",
            "Requests per second: answered right (ok), answered wrong, and failed by gRPC "
            "status, stacked; the line is the offered load.",
            throughput_svg,
        ),
    ):
        svg = draw(exp, f"exp-{slug}-{kind}")
        if svg is not None:
            plots.append({"kind": kind, "caption": caption, "svg": Markup(svg)})
    return plots


def _slugs(names: list[str]) -> list[str]:
    """Id-safe, unique slugs for the experiment names."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        slug = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-").lower() or "experiment"
        seen[slug] = seen.get(slug, 0) + 1
        out.append(slug if seen[slug] == 1 else f"{slug}-{seen[slug]}")
    return out


def template_environment(*packages: str) -> Environment:
    """The Jinja2 environment of tfsverify's HTML reports (autoescaped, strict, with the
    formatting filters); the templates of ``packages`` are looked up before this one's."""
    env = Environment(
        loader=ChoiceLoader(
            [PackageLoader(package, "templates") for package in (*packages, "tfsverify.report")]
        ),
        autoescape=select_autoescape(["html", "j2"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        pct=formatting.format_pct,
        ms=formatting.format_ms,
        offset=formatting.format_offset,
        utc=formatting.format_utc,
        duration=formatting.format_duration,
    )
    return env


@cache
def _environment() -> Environment:
    return template_environment()
