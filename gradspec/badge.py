"""Conformance badges: one small SVG per adapter and mode, with the framework's
version and its score, for a project to put in its README.

The score is the dashboard's (``gradspec.merge.scores``): PASS over every
result of a required case.  Every text in a badge comes from a record, so it
is XML-escaped, and file names are reduced to a safe alphabet.
"""
from __future__ import annotations

import re
from pathlib import Path
from xml.sax.saxutils import escape

from packaging.version import InvalidVersion, Version

from .merge import scores
from .modes import EAGER
from .record import write_atomic
from .record_model import RunRecord

COLOURS = ((95, "#4c1"), (80, "#97ca00"), (50, "#fe7d37"), (0, "#e05d44"))
NO_SCORE = "#9f9f9f"
CHAR_PX = 7  # a generous average advance of 11 px Verdana, so text never overflows its box


def _width(text: str) -> int:
    return CHAR_PX * len(text) + 10


def svg(label: str, message: str, colour: str) -> str:
    """A flat two-part badge: ``label`` on grey, ``message`` on ``colour``."""
    left, right = _width(label), _width(message)
    total = left + right
    label_x, message_x = left / 2, left + right / 2
    title = escape(f"{label}: {message}")
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="20" role="img" aria-label="{title}">'
            f"<title>{title}</title>"
            f'<rect width="{left}" height="20" fill="#555"/>'
            f'<rect x="{left}" width="{right}" height="20" fill="{colour}"/>'
            f'<g fill="#fff" text-anchor="middle" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11">'
            f'<text x="{label_x}" y="14">{escape(label)}</text>'
            f'<text x="{message_x}" y="14">{escape(message)}</text></g></svg>\n')


def _colour(passed: int, denominator: int) -> str:
    if not denominator:
        return NO_SCORE
    pct = 100 * passed / denominator
    return next(c for limit, c in COLOURS if pct >= limit)


def _version_key(version: str) -> tuple[int, Version | str]:
    try:
        return (1, Version(version))
    except InvalidVersion:
        return (0, version)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name).strip(".") or "adapter"


def badges(record: RunRecord) -> dict[str, str]:
    """File name -> SVG: ``<adapter>-<mode>.svg`` for each mode at the newest version in the
    record, and ``<adapter>.svg`` for its eager mode (or its first mode)."""
    newest: dict[tuple[str, str], tuple[str, dict]] = {}
    for (adapter, version, mode), s in scores(record).items():
        held = newest.get((adapter, mode))
        if held is None or _version_key(version) > _version_key(held[0]):
            newest[(adapter, mode)] = (version, s)
    out: dict[str, str] = {}
    for (adapter, mode), (version, s) in sorted(newest.items()):
        passed, denominator = s["passed"], s["denominator"]
        message = f"{round(100 * passed / denominator)}% ({passed}/{denominator})" if denominator else "no score"
        label = f"gradspec {adapter} {version}" + ("" if mode == EAGER else f" {mode}")
        image = svg(label, message, _colour(passed, denominator))
        out[f"{_safe(adapter)}-{_safe(mode)}.svg"] = image
        modes = sorted(m for a, m in newest if a == adapter)
        if mode == (EAGER if EAGER in modes else modes[0]):
            out[f"{_safe(adapter)}.svg"] = image
    return out


def save(record: RunRecord, folder: str | Path) -> list[Path]:
    """Write every badge into ``folder`` (created), atomically; the paths written."""
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name, image in badges(record).items():
        write_atomic(target / name, image)
        written.append(target / name)
    return written
