"""Matplotlib figures as SVG markup that can be inlined in an HTML page, several per page.

Each SVG loses its XML prologue and metadata, gets ids unique to a prefix (matplotlib
numbers its ids per figure, so two inlined figures would otherwise clash), and carries a
``<title>`` and ``<desc>`` referenced by ``aria-labelledby`` for screen readers. Text stays
text (``svg.fonttype: none``) and ids are deterministic (``svg.hashsalt``), so the same
document renders to the same bytes.
"""

from __future__ import annotations

import io
import re
from contextlib import AbstractContextManager

from markupsafe import escape
from matplotlib import rc_context
from matplotlib.figure import Figure

_PROLOGUE = re.compile(r"\A.*?(?=<svg)", re.DOTALL)
_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.DOTALL)
_ID_REF = re.compile(r'(\bid="|url\(#|href="#)([^")]+)')


def plot_style() -> AbstractContextManager[None]:
    """The matplotlib settings of every report figure (use as a ``with`` block)."""
    return rc_context(
        {
            "svg.fonttype": "none",  # text stays text: searchable, selectable, small
            "svg.hashsalt": "tfsverify",  # deterministic ids
            "text.parse_math": False,  # a "$" in a name is a dollar sign, not mathtext
            "font.size": 9,
            "axes.spines.top": False,
            "axes.spines.right": False,
        }
    )


def inline_svg(fig: Figure, prefix: str, title: str, desc: str) -> str:
    """``fig`` as SVG markup to inline, with ids prefixed by ``prefix`` (an HTML id)."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None})
    svg = _METADATA.sub("", _PROLOGUE.sub("", buffer.getvalue(), count=1), count=1)
    svg = _ID_REF.sub(lambda m: f"{m.group(1)}{prefix}-{m.group(2)}", svg)
    head_end = svg.index(">")
    label = (
        f' role="img" aria-labelledby="{prefix}-title {prefix}-desc"'
        f' class="plot-svg" id="{prefix}-svg"'
    )
    accessible = (
        f'<title id="{prefix}-title">{escape(title)}</title>'
        f'<desc id="{prefix}-desc">{escape(desc)}</desc>'
    )
    return svg[:head_end] + label + ">" + accessible + svg[head_end + 1 :]
