"""Flag rules generated from man pages (issue 16): keyword rules over each option's text.

For a tool of the invocation knowledge with a man page in the corpus, every option entry of the
page's OPTIONS and DESCRIPTION sections (``-f, --force`` and the indented text under it) is
matched against a small table of phrases (``man-keywords-v1``). An option whose text says it
deletes, overwrites, runs commands or edits files in place becomes a **raise-only** rule in
the knowledge format (``effect: raise``, the flags of the entry, a level and capabilities): a
generated rule can make a line need more care, never less, so no generated rule can turn a
line into an approval. Each rule records where it came from (``source``: generator, man page,
section, the option's header), which ``tcplab check --explain`` shows for a registry built
with them (:func:`tcplab.check.build_registry` with ``generated=``). Evaluated on the dev
split only (``docs/check.md``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["GENERATOR", "generate_flag_rules", "option_entries"]

GENERATOR = "man-keywords-v1"
_FLAG = re.compile(r"(?<![\w-])(--?[A-Za-z0-9][\w-]*)")
_GAP = re.compile(r"\s{2,}")
#: where option entries are read (GNU pages list them under DESCRIPTION)
_SECTIONS = ("OPTIONS", "DESCRIPTION")
_NEGATED = re.compile(r"^\s*(do not|don't|never|no |without)\b", re.I)
# (name, phrase, level, capabilities): the first that matches an option's text wins
_CLASSES: tuple[tuple[str, re.Pattern[str], str, tuple[str, ...]], ...] = (
    (
        "runs commands",
        re.compile(
            r"\b(execute|run|invoke)s?\b[^.]{0,40}\b(command|program|shell|script)s?\b", re.I
        ),
        "HIGH_RISK",
        (),
    ),
    (
        "destroys data",
        re.compile(r"\b(delete|remove|erase|wipe|destroy|shred|overwrite|truncate)s?\b", re.I),
        "HIGH_RISK",
        ("DESTRUCTIVE", "FILE_MODIFICATION"),
    ),
    (
        "edits files in place",
        re.compile(r"\bin[- ]place\b", re.I),
        "MEDIUM_RISK",
        ("FILE_MODIFICATION",),
    ),
)


def option_entries(options_text: str) -> list[tuple[str, list[str], str]]:
    """The entries of a rendered OPTIONS section: ``(header, flags, text)``.

    A header is a line that starts with ``-`` at the left margin; its text is what follows it
    on the same line after a gap of two or more blanks, plus the indented lines under it.
    """
    out: list[tuple[str, list[str], str]] = []
    for line in options_text.splitlines():
        if line.startswith("-"):
            parts = _GAP.split(line.strip(), 1)
            head, rest = parts[0], (parts[1] if len(parts) > 1 else "")
            out.append((head, _FLAG.findall(head), rest))
        elif out and line[:1].isspace() and line.strip():
            header, flags, text = out[-1]
            out[-1] = (header, flags, f"{text} {line.strip()}".strip())
    return [e for e in out if e[1]]


def _classify(text: str) -> tuple[str, str, tuple[str, ...], str] | None:
    if _NEGATED.search(text):
        return None
    for name, phrase, level, caps in _CLASSES:
        m = phrase.search(text)
        if m:
            return name, level, caps, m.group(0)
    return None


def generate_flag_rules(
    docs: Iterable[Any], tools: Iterable[str] | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Raise-only flag rules per tool from corpus rows (:class:`tcplab.corpus.ToolDoc`).

    ``tools``: only these tool names (default: every row). ``--help``/``--version`` are never
    given a rule (the knowledge's defaults decide them).
    """
    wanted = None if tools is None else set(tools)
    out: dict[str, list[dict[str, Any]]] = {}
    for doc in docs:
        if wanted is not None and doc.name not in wanted:
            continue
        sections: Mapping[str, str] = doc.sections or {}
        page = doc.man_path or f"{doc.name}({doc.man_section or '?'})"
        for section in _SECTIONS:
            for header, flags, text in option_entries(sections.get(section, "")):
                rule = _rule(header, flags, text, f"{page}: {section}")
                if rule is not None:
                    out.setdefault(doc.name, []).append(rule)
    return out


def _rule(header: str, flags: list[str], text: str, where: str) -> dict[str, Any] | None:
    flags = [f for f in flags if f not in ("--help", "--version")]
    found = _classify(text) if flags else None
    if found is None:
        return None
    name, level, caps, phrase = found
    return {
        "effect": "raise",
        "flags": flags,
        "level": level,
        "capabilities": list(caps),
        "why": f"the man page says the option {name} ({phrase!r})",
        "source": f"generated ({GENERATOR}) from {where} {header.strip()!r}",
    }
