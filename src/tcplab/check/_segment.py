"""What the parsers give the engine: :class:`Segment` (one simple command or redirection) and
:class:`Parsed` (the segments of a text and its parse errors)."""

from __future__ import annotations

__all__ = ["Parsed", "Segment"]


class Segment:
    """One simple command (``words``) or one redirection (``redirect`` = (operator, target)).

    ``stdin`` is the static text a here-document or here-string feeds the command (None when
    there is none or it has an expansion): an interpreter with no script operand runs it.
    ``env`` names the variables assigned for the command (``LD_PRELOAD=x ls``) or, for a
    segment with no words, set or exported by the statement (``export X=1``, ``X=1``).
    ``subst`` is true when an argument contains a command or process substitution;
    ``inputs`` are the static files redirected into the command (``< FILE``).
    """

    __slots__ = ("env", "inputs", "pipe", "redirect", "stage", "stdin", "subst", "text", "words")

    def __init__(
        self,
        text: str,
        words: list[str | None],
        redirect: tuple[str, str | None] | None = None,
        pipe: int = -1,
        stage: int = 0,
    ) -> None:
        self.text, self.words, self.redirect = text, words, redirect
        self.pipe, self.stage = pipe, stage
        self.stdin: str | None = None
        self.env: tuple[str, ...] = ()
        self.subst = False
        self.inputs: tuple[str, ...] = ()


class Parsed:
    """The segments of a text and the parse errors found in it."""

    __slots__ = ("errors", "segments")

    def __init__(self) -> None:
        self.segments: list[Segment] = []
        self.errors: list[str] = []
