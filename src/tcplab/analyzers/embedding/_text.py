"""What the embedding arm reads: the text recipe applied to a tool's documentation.

Recipe ``text-v1`` (see ``docs/embedding.md``):

1. the NAME entry (``ls - list directory contents``), whitespace collapsed;
2. a newline;
3. the DESCRIPTION section (or, for ``--help`` documentation, the HELP text), whitespace
   collapsed and cut to its first :data:`BODY_CHARS` characters at a word boundary.

When a page has neither NAME nor DESCRIPTION/HELP, the first :data:`BODY_CHARS` characters of
the full text are used. The model then truncates the text to its maximum sequence length
(256 word pieces including ``[CLS]``/``[SEP]``), which in practice keeps the NAME entry and
roughly the first 150-200 words of DESCRIPTION; everything after that is not seen.
"""

from __future__ import annotations

import re

from tcplab.analyzers._types import ToolInput

__all__ = ["BODY_CHARS", "TEXT_RECIPE", "build_text"]

TEXT_RECIPE = "text-v1"
#: Characters of DESCRIPTION kept before tokenization (more than 256 word pieces' worth).
BODY_CHARS = 1500

_WS = re.compile(r"\s+")


def _collapse(text: str) -> str:
    return _WS.sub(" ", text).strip()


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    head = text[:limit]
    space = head.rfind(" ")
    return head[:space] if space > limit // 2 else head


def build_text(tool: ToolInput) -> str:
    """The text the model embeds for ``tool`` (recipe :data:`TEXT_RECIPE`); "" when undocumented.

    Args:
        tool: the tool and its documentation sections.

    Returns:
        ``NAME entry + "\\n" + first part of DESCRIPTION``, or "" when there is no documentation.
    """
    name = _collapse(tool.sections.get("NAME", ""))
    body = _collapse(tool.sections.get("DESCRIPTION", "") or tool.sections.get("HELP", ""))
    if not name and not body:
        return _cut(_collapse(tool.doc_text), BODY_CHARS)
    return "\n".join(part for part in (name, _cut(body, BODY_CHARS)) if part)
