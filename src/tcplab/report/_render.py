"""Render the report's blocks as Markdown and as one self-contained HTML page."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

from tcplab.report._document import Block

__all__ = ["to_html", "to_markdown"]

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:1100px;
margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.8em 0;font-size:.9em}
th,td{border:1px solid #ccc;padding:.3em .5em;text-align:left;vertical-align:top}
th{background:#f3f3f3}figure{margin:1em 0}figcaption{font-size:.9em;color:#555}
td.wide{max-width:28em}
.warnings{border:2px solid #b8860b;background:#fff8e1;padding:.6em 1em;margin:1em 0}
.warnings strong{color:#8a5a00}
"""

_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_[]<>#|&"})


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_warning(text: str) -> str:
    """A run warning as inert Markdown text: one line, markup characters escaped."""
    return " ".join(text.split()).translate(_MD_SPECIAL)


def to_markdown(blocks: Sequence[Block], plot_files: Mapping[str, str]) -> str:
    """Markdown with figures linked to ``plot_files`` (plot key -> relative path)."""
    out: list[str] = []
    for b in blocks:
        kind = b[0]
        if kind in ("h1", "h2", "h3"):
            out.append("#" * int(kind[1]) + " " + b[1])
        elif kind == "p":
            out.append(b[1])
        elif kind == "ul":
            out.append("\n".join(f"- {item}" for item in b[1]) or "- (none)")
        elif kind == "warnings":
            lines = [f"> **Warning: this run reported {len(b[1])} problem(s).**", ">"]
            lines += [f"> - {_md_warning(w)}" for w in b[1]]
            out.append("\n".join(lines))
        elif kind == "table":
            header, rows = b[1], b[2]
            lines = ["| " + " | ".join(_md_cell(h) for h in header) + " |"]
            lines.append("|" + "---|" * len(header))
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
            out.append("\n".join(lines))
        elif kind == "figure" and b[1] in plot_files:
            out.append(f"![{b[2]}]({plot_files[b[1]]})")
    return "\n\n".join(out) + "\n"


def to_html(blocks: Sequence[Block], svgs: Mapping[str, str], title: str) -> str:
    """One HTML page: inline CSS and inline SVG figures, no script, no external resource."""
    esc = html.escape
    body: list[str] = []
    for b in blocks:
        kind = b[0]
        if kind in ("h1", "h2", "h3"):
            body.append(f"<{kind}>{esc(b[1])}</{kind}>")
        elif kind == "p":
            body.append(f"<p>{esc(b[1])}</p>")
        elif kind == "ul":
            items = "".join(f"<li>{esc(i)}</li>" for i in b[1]) or "<li>(none)</li>"
            body.append(f"<ul>{items}</ul>")
        elif kind == "warnings":
            items = "".join(f"<li>{esc(w)}</li>" for w in b[1])
            body.append(
                f'<div class="warnings" role="alert"><strong>Warning: this run reported '
                f"{len(b[1])} problem(s).</strong><ul>{items}</ul></div>"
            )
        elif kind == "table":
            head = "".join(f"<th>{esc(h)}</th>" for h in b[1])
            rows = "".join(
                "<tr>" + "".join(f'<td class="wide">{esc(c)}</td>' for c in row) + "</tr>"
                for row in b[2]
            )
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        elif kind == "figure" and b[1] in svgs:
            body.append(
                f'<figure data-plot="{esc(b[1])}">{svgs[b[1]]}'
                f"<figcaption>{esc(b[2])}</figcaption></figure>"
            )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{_CSS}</style></head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )
