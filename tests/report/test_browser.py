"""report.html in a real browser: Debian's chromium, headless, renders the page.

Skipped only when no chromium is installed (CI installs it: ``apt-get install chromium``).
Each chromium run is bounded by a timeout; its whole process group is killed afterwards.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
TIMEOUT_S = 60
WIDTH, HEIGHT = 1280, 2400
BREACH_RGB = (0xB3, 0x26, 0x1E)  # --breach in report.css: the header rule and badge
OK_RGB = (0x00, 0x9E, 0x73)  # ok/s in the throughput plot

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)"
)


def _chromium(args: list[str], profile: Path) -> str:
    """Run headless chromium on ``args``; its stdout. Killed (whole group) on timeout."""
    assert CHROMIUM is not None
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        f"--user-data-dir={profile}",
        f"--window-size={WIDTH},{HEIGHT}",
        *args,
    ]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: helpers die with it
        env={**os.environ, "HOME": str(profile)},
    )
    try:
        stdout, stderr = process.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"chromium did not finish within {TIMEOUT_S} s")
    finally:
        with contextlib.suppress(ProcessLookupError):  # no member of the group is left
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    assert process.returncode == 0, stderr[-2000:]
    return stdout


@pytest.fixture(scope="module")
def page(report_dir: Path) -> str:
    return (report_dir / "report.html").resolve().as_uri()


def test_the_rendered_dom_has_the_verdict_table_and_the_plots(
    page: str, tmp_path: Path, html_parser: Callable[[str], tuple[list[Any], str]]
) -> None:
    dom = _chromium(["--dump-dom", page], tmp_path / "profile")
    elements, text = html_parser(dom)
    assert any(e.tag == "table" and e.attrs.get("id") == "verdict-table" for e in elements)
    rows = [e for e in elements if e.tag == "tr" and "verdict" in e.classes]
    assert len(rows) == 8 and rows[0].attrs["data-verdict"] == "fail"
    figures = [e for e in elements if e.tag == "figure" and "plot" in e.classes]
    assert len(figures) == 4
    drawn = [
        e for e in elements if e.tag in ("svg", "img") and any(".plot" in a for a in e.ancestors)
    ]
    assert len(drawn) == 4
    assert "<script>alert(1)</script>" in text  # shown as text
    assert not [e for e in elements if e.tag == "script"]


def test_the_screenshot_shows_a_page_with_colour_and_plots(page: str, tmp_path: Path) -> None:
    image_module = pytest.importorskip("PIL.Image")
    shot = tmp_path / "report.png"
    _chromium([f"--screenshot={shot}", page], tmp_path / "profile")
    with image_module.open(shot) as image:
        rgb = image.convert("RGB")
    assert rgb.size == (WIDTH, HEIGHT)
    colours = rgb.getcolors(maxcolors=WIDTH * HEIGHT) or []
    assert len(colours) > 200, "the page is (nearly) one colour"
    white = sum(n for n, c in colours if min(c) >= 250)
    assert white < 0.9 * WIDTH * HEIGHT, "the page is (nearly) blank"
    assert _pixels_near(colours, BREACH_RGB) > 1000, "the breach verdict is not shown in red"
    assert _pixels_near(colours, OK_RGB) > 20_000, "the throughput plots are not drawn"


def _pixels_near(colours: list[tuple[int, tuple[int, int, int]]], rgb: tuple[int, ...]) -> int:
    return sum(n for n, c in colours if all(abs(a - b) <= 24 for a, b in zip(c, rgb, strict=True)))
