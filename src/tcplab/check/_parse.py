"""Shell text → simple commands, with tree-sitter-bash (imported on first use).

Every simple command anywhere in the text becomes a :class:`Segment`: list members, pipeline
stages, subshells, bodies of ``if``/``for``/functions, command substitutions ``$(…)`` and
backticks (also inside arguments, assignments, strings and here-doc bodies) and process
substitutions. Words are resolved to their static text; a word whose value depends on an
expansion is ``None`` (dynamic). Redirections become their own segments. Text that does not
parse is reported in :attr:`Parsed.errors` (the check makes it REQUIRE_APPROVAL).
"""

from __future__ import annotations

import re
from typing import Any

from tcplab.check._fast import fast_parse
from tcplab.errors import MissingDependencyError

__all__ = ["Parsed", "Segment", "clear_parse_cache", "parse", "tree_parse"]

_PARSER: list[Any] = []
_CACHE: dict[str, Parsed] = {}
_CACHE_MAX = 4096
_CACHE_TEXT = 4096
_UNESCAPE = re.compile(r"\\(.)", re.S)
_DQ_UNESCAPE = re.compile(r'\\([$`"\\\n])')
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
_WRITE_OPS = frozenset({">", ">>", ">|", "&>", "&>>", "<>", ">&"})
_SUBST = frozenset({"command_substitution", "process_substitution"})
_SKIP = frozenset({"comment", "heredoc_start", "heredoc_end", "variable_name"})


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


def _parser() -> Any:
    if not _PARSER:
        try:
            import tree_sitter
            import tree_sitter_bash
        except ImportError as exc:
            raise MissingDependencyError.for_extra(
                "tree-sitter-bash", "check", "tcplab check"
            ) from exc
        _PARSER.append(tree_sitter.Parser(tree_sitter.Language(tree_sitter_bash.language())))
    return _PARSER[0]


def _text(node: Any) -> str:
    raw: bytes = node.text
    return raw.decode("utf-8", "replace")


def _value(node: Any, t: str | None = None) -> str | None:
    """The static value of a word node (of type ``t``, when known), or None when it depends on
    an expansion."""
    if t is None:
        t = node.type
    if t == "word" or t == "number":
        s = _text(node)
        return _UNESCAPE.sub(r"\1", s) if "\\" in s else s
    if t == "raw_string":
        return _text(node)[1:-1]
    if t == "string":
        if any(c.type != "string_content" for c in node.named_children):
            return None
        inner = _text(node)[1:-1]
        return _DQ_UNESCAPE.sub(r"\1", inner) if "\\" in inner else inner
    if t == "concatenation":
        parts = [_value(c) for c in node.children]
        return None if any(p is None for p in parts) else "".join(p or "" for p in parts)
    return None


class _Walker:
    """Depth-first walk that appends segments; ``pipe``/``stage`` follow pipelines."""

    __slots__ = ("clean", "last_stage", "out", "pipes")

    def __init__(self, out: Parsed, clean: bool = False) -> None:
        self.out, self.pipes = out, 0
        self.last_stage: dict[int, int] = {}  # pipe -> its last stage so far
        self.clean = clean  # no ERROR or missing node anywhere: leaves need no look

    def walk(self, node: Any, pipe: int = -1, stage: int = 0) -> None:
        t = node.type
        if t == "command":
            self.command(node, pipe, stage)
        elif t == "redirected_statement":
            self.redirected(node, pipe, stage)
        elif t in ("declaration_command", "variable_assignment", "variable_assignments"):
            self.assignment(node)
        elif t == "pipeline":
            self.pipes += 1
            self.stages(node, self.pipes, 0)
        elif t in ("file_redirect", "herestring_redirect"):
            self.redirect(node)
        elif t == "ERROR" or (not self.clean and node.is_missing):
            snippet = _text(node)[:40] or node.type
            self.out.errors.append(f"cannot parse near {snippet!r}")
            self.children(node, pipe, stage)
        elif t not in _SKIP:
            self.children(node, pipe, stage)

    def stages(self, node: Any, pipe: int, stage: int) -> None:
        """The stages of a pipeline, numbered from ``stage`` in pipeline ``pipe``."""
        for child in node.named_children:
            if child.type != "comment":
                self.last_stage[pipe] = stage
                self.walk(child, pipe, stage)
                stage = self.last_stage[pipe] + 1

    def children(self, node: Any, pipe: int = -1, stage: int = 0) -> None:
        for child in node.children:
            if self._walked(child):
                self.walk(child, pipe, stage)

    def _walked(self, child: Any) -> bool:
        """Whether a child needs a walk: it has children, or it is an error."""
        if child.child_count:
            return True
        return not self.clean and (child.type == "ERROR" or child.is_missing)

    def nested(self, node: Any) -> None:
        """Walk the substitutions inside a dynamic word (their commands run too)."""
        if node.type in _SUBST:
            self.children(node)
            return
        for child in node.children:
            if child.child_count:
                self.nested(child)

    def redirected(self, node: Any, pipe: int, stage: int) -> None:
        """A statement with redirections. They belong to the last simple command before them
        (bash), also where tree-sitter puts a list or pipeline in the body (``a && b < f``,
        ``a | b 2>&1 | c``): a static here-document becomes that command's stdin and
        ``< FILE`` its input; a pipeline body inside a pipeline continues it."""
        segments = self.out.segments
        body = node.child_by_field_name("body")
        target: Segment | None = None
        for child in node.children:
            if body is None or child.id != body.id:
                if self._walked(child):
                    self.walk(child, pipe, stage)
                continue
            first = len(segments)
            if child.type == "pipeline" and pipe >= 0:
                self.stages(child, pipe, stage)
            else:
                self.walk(child, pipe, stage)
            if len(segments) > first and segments[-1].words and _ends_in_command(child):
                target = segments[-1]
        if target is None:
            return
        docs = [c for c in node.children if c.type == "heredoc_redirect"]
        if len(docs) == 1:
            target.stdin = _heredoc_text(docs[0])
        target.inputs += _input_files(node.children)

    def assignment(self, node: Any) -> None:
        """``X=1``, ``export X=1 Y``: a segment with no words that names the variables."""
        names = _assigned(node)
        if names:
            self.out.segments.append(_env_segment(_text(node), names))
        self.values(node)

    def values(self, node: Any) -> None:
        """Walk the substitutions in assigned values (not the assignments again)."""
        for child in node.children:
            if child.type in ("variable_assignment", "variable_assignments"):
                self.values(child)
            elif child.child_count or child.type == "ERROR" or child.is_missing:
                self.walk(child)

    def command(self, node: Any, pipe: int, stage: int) -> None:
        words: list[str | None] = []
        stdin: str | None = None
        env: list[str] = []
        subst = False
        redirects = []
        for child in node.children:
            t = child.type
            if t == "herestring_redirect":
                word = next((c for c in child.named_children), None)
                stdin = None if word is None else _value(word)
                if stdin is not None:
                    stdin += "\n"
                elif word is not None:  # `cat <<< "$(rm -rf /)"`: the substitution runs
                    self.nested(word)
            if t == "variable_assignment":
                env.extend(_assigned(child))
                self.values(child)
                continue
            if t == "file_redirect":
                self.redirect(child)
                redirects.append(child)
                continue
            if t == "herestring_redirect":
                continue
            if t == "command_name":
                if child.child_count:
                    child = child.children[0]
                    t = child.type
            elif not child.is_named or t == "comment":
                continue
            value = _value(child, t)
            if value is None:
                subst = subst or (bool(words) and _has_subst(child))
                self.nested(child)
            words.append(value)
        seg = Segment(_text(node), words, None, pipe, stage)
        seg.stdin, seg.env, seg.subst = stdin, tuple(env), subst
        if redirects:
            seg.inputs = _input_files(redirects)
        self.out.segments.append(seg)

    def redirect(self, node: Any) -> None:
        if node.type == "herestring_redirect":  # `{ cat; } <<< "$(id)"`: the substitution runs
            for word in node.named_children:
                if _value(word) is None:
                    self.nested(word)
            return
        op, target = "", None
        dest = node.child_by_field_name("destination")
        for child in node.children:
            if not child.is_named and child.type != "file_descriptor":
                op = child.type
        if dest is not None:
            target = _value(dest)
            if target is None:
                self.nested(dest)
        if op in _WRITE_OPS and not (op == ">&" and target is not None and target.isdigit()):
            self.out.segments.append(Segment(_text(node), [], (op, target)))


def _assigned(node: Any) -> list[str]:
    """The variable names assigned in an assignment or declaration node (``export X=1 Y``)."""
    if node.type == "variable_assignment":
        name = node.child_by_field_name("name")
        return [_text(name)] if name is not None else []
    out: list[str] = []
    for child in node.named_children:
        if child.type in ("variable_assignment", "variable_assignments"):
            out.extend(_assigned(child))
        elif child.type == "variable_name":
            out.append(_text(child))
    return out


def _input_files(children: list[Any]) -> tuple[str, ...]:
    """The static targets of ``< FILE`` redirections among nodes."""
    out = []
    for child in children:
        if child.type != "file_redirect":
            continue
        ops = [c.type for c in child.children if not c.is_named]
        dest = child.child_by_field_name("destination")
        if "<" in ops and dest is not None:
            value = _value(dest)
            if value is not None:
                out.append(value)
    return tuple(out)


def _env_segment(text: str, names: list[str]) -> Segment:
    seg = Segment(text, [])
    seg.env = tuple(names)
    return seg


def _ends_in_command(node: Any) -> bool:
    """Whether ``node`` is a simple command or a list/pipeline whose last part is one."""
    if node.type == "command":
        return True
    if node.type not in ("list", "pipeline"):
        return False
    parts = [c for c in node.named_children if c.type != "comment"]
    return bool(parts) and parts[-1].type == "command"


def _has_subst(node: Any) -> bool:
    """Whether a word node contains a command or process substitution."""
    if node.type in _SUBST:
        return True
    return any(_has_subst(c) for c in node.children if c.child_count)


def _heredoc_text(node: Any) -> str | None:
    """The text of a here-document, or None when it expands something (``$X``, ``$(…)``)."""
    start = next((c for c in node.children if c.type == "heredoc_start"), None)
    body = next((c for c in node.children if c.type == "heredoc_body"), None)
    if start is None or body is None:
        return None
    quoted = _text(start)[:1] in ("'", '"') or "\\" in _text(start)
    if not quoted and any(c.type != "heredoc_content" for c in body.named_children):
        return None
    text = _text(body)
    if node.children and _text(node.children[0]) == "<<-":  # leading tabs are removed
        text = "\n".join(line.lstrip("\t") for line in text.split("\n"))
    return text


def _fast_segment(
    text: str,
    words: list[str | None],
    pipe: int,
    stage: int,
    redirect: tuple[str, str | None] | None,
    inputs: tuple[str, ...],
) -> Segment:
    seg = Segment(text, words, redirect, pipe, stage)
    if inputs:
        seg.inputs = inputs
    return seg


def parse(text: str) -> Parsed:
    """Parse shell text into segments (never raises on bad shell; see :attr:`Parsed.errors`).

    Results of texts up to 4 KiB are kept (up to 4,096 of them; agents repeat lines); they are
    shared, so callers never modify them.
    """
    found = _CACHE.get(text)
    if found is not None:
        return found
    out = Parsed()
    simple = fast_parse(text)
    if simple is not None:  # the common subset, same result as tree-sitter (tests/check)
        out.segments = [_fast_segment(*found) for found in simple]
    else:
        tree_parse(text, out)
    if len(text) <= _CACHE_TEXT:
        if len(_CACHE) >= _CACHE_MAX:
            _CACHE.clear()
        _CACHE[text] = out
    return out


def tree_parse(text: str, out: Parsed) -> Parsed:
    """Parse ``text`` with tree-sitter into ``out`` (no cache, no fast path).

    Characters outside the Basic Multilingual Plane are replaced by U+FFFD first: with them,
    tree-sitter-bash 0.25.1 crashes the process now and then (a segmentation fault found by
    ``tests/check/test_fuzz.py``); they only ever occur inside words.
    """
    if _ASTRAL.search(text):
        text = _ASTRAL.sub("\ufffd", text)
    tree = _parser().parse(text.encode("utf-8", "surrogatepass"))
    root = tree.root_node
    _Walker(out, clean=not root.has_error).walk(root)
    if tree.root_node.has_error and not out.errors:
        out.errors.append("the text does not parse as shell")
    return out


def clear_parse_cache() -> None:
    """Forget the kept parse results (benchmarks of cold lines)."""
    _CACHE.clear()
