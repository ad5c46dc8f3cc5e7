"""The tree-sitter-bash syntax tree → :class:`Segment` s (the walk behind :func:`tree_parse`).

See :mod:`tcplab.check._parse` for what becomes a segment. The walk also restores bash's
reading where tree-sitter-bash 0.25 differs from it (redirections after a list or pipeline)
and checks text that tree-sitter leaves unparsed although bash expands it: backquotes inside
``${…}``, here-document bodies of ``<<-`` (:meth:`_Walker.loose`).
"""

from __future__ import annotations

import re
from typing import Any

from tcplab.check._segment import Parsed, Segment
from tcplab.check._shelltext import expand_braces, heredoc_ends_early, substitutions

__all__ = ["walk_tree"]

_UNESCAPE = re.compile(r"\\(.)", re.S)
_DQ_UNESCAPE = re.compile(r'\\([$`"\\\n])')
_WRITE_OPS = frozenset({">", ">>", ">|", "&>", "&>>", "<>", ">&"})
_SUBST = frozenset({"command_substitution", "process_substitution"})
_SKIP = frozenset({"comment", "heredoc_start", "heredoc_end", "variable_name"})
_BRACED = frozenset({"word", "concatenation"})  # unquoted words that brace expansion splits


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

    __slots__ = ("clean", "depth", "last_stage", "out", "parser", "pipes")

    def __init__(self, out: Parsed, parser: Any, clean: bool = False) -> None:
        self.out, self.pipes, self.parser = out, 0, parser
        self.last_stage: dict[int, int] = {}  # pipe -> its last stage so far
        self.clean = clean  # no ERROR or missing node anywhere: leaves need no look
        self.depth = 0  # nesting of loose text (see loose)

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
        elif t == "heredoc_redirect":
            self.heredoc(node, pipe, stage)
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

    def nested(self, node: Any) -> bool:
        """Walk the substitutions inside a dynamic word (their commands run too); whether
        there was one."""
        if node.type in _SUBST:
            self.children(node)
            return True
        found = False
        for child in node.children:
            if child.child_count:
                found = self.nested(child) or found
            elif child.type in ("word", "regex", "raw_string"):  # `${x:-`id`}`, `"${x:-'$(id)'}"`
                found = self.loose(_text(child), procsub=True) or found
        return found

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
        feeds = _feeds(node.children) + sum(_feeds(d.children) for d in docs)
        own = target.stdin is not None or bool(target.inputs)
        if len(docs) == 1 and feeds == 1 and not own:
            target.stdin = _heredoc_text(docs[0])
        elif feeds:  # several stdin redirections (`bash <<< x < <(…)`): the last one wins
            target.stdin = None
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
                found = self.nested(child)
                subst = subst or (bool(words) and found)
            elif "{" in value and t in _BRACED and words:  # `find / {-delete,}`
                words.extend(_braced(child, t, value))
                continue
            words.append(value)
        seg = Segment(_text(node), words, None, pipe, stage)
        seg.stdin, seg.env, seg.subst = stdin, tuple(env), subst
        if redirects:
            seg.inputs = _input_files(redirects)
            if stdin is not None and _feeds(redirects):  # `bash <<< 'x' < <(…)`: the last wins
                seg.stdin = None
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

    def heredoc(self, node: Any, pipe: int, stage: int) -> None:
        """A here-document (tree-sitter puts what follows ``<<EOF`` on its line in it too: ``>
        out``, ``&& cmd``). With an unquoted delimiter its body is expanded (``$(…)`` and
        backquotes run); text tree-sitter leaves unparsed (a ``<<-`` body) is checked loose."""
        quoted = _quoted_heredoc(node)
        for child in node.children:
            if child.type != "heredoc_body":
                if self._walked(child):
                    self.walk(child, pipe, stage)
                continue
            if _ends_early(node, child) or _skips_lines(node, child):
                self.out.errors.append("the here-document ends earlier for bash (a line is EOF)")
            if quoted:
                continue
            if not child.child_count:
                self.loose(_text(child))
                continue
            for part in child.children:
                if part.child_count:
                    self.nested(part)
                elif part.type == "heredoc_content":
                    self.loose(_text(part))

    def loose(self, text: str, procsub: bool = False) -> bool:
        """Command substitutions in text tree-sitter did not parse: each ``$(…)`` or backquoted
        part (with ``procsub``, ``<(…)`` and ``>(…)`` too: bash runs them in ``${x:-<(…)}``)
        is parsed and walked; an unclosed one is a parse error (approval needed). Whether the
        text has one."""
        if procsub:
            text = text.replace("<(", "$(").replace(">(", "$(")
        if "`" not in text and "$(" not in text:
            return False
        if self.depth >= 8:
            self.out.errors.append("substitutions nested too deep")
            return True
        for inner in substitutions(text, self.out.errors):
            tree = self.parser.parse(inner.encode("utf-8", "surrogatepass"))
            root, clean = tree.root_node, self.clean
            if root.has_error:
                self.out.errors.append(f"cannot parse substitution {inner[:40]!r}")
            self.depth, self.clean = self.depth + 1, not root.has_error
            try:
                self.walk(root)
            finally:
                self.depth, self.clean = self.depth - 1, clean
        return True


def walk_tree(root: Any, out: Parsed, parser: Any) -> None:
    """Append the segments and errors of the tree at ``root`` to ``out`` (``parser`` parses
    loose text)."""
    _Walker(out, parser, clean=not root.has_error).walk(root)


def _braced(node: Any, t: str, value: str) -> list[str | None]:
    """The words of an unquoted word after brace expansion: ``[value]`` when no unquoted part
    has a ``{``, ``[None]`` (dynamic) when bash would expand it in a way not worked out here
    (quotes next to the braces, too many words)."""
    if t == "concatenation":
        parts = node.children
        if not any(c.type == "word" and "{" in _text(c) for c in parts):
            return [value]  # the braces are quoted: `--format="{%h}"`
        if any(c.type != "word" for c in parts):
            return [None]
    found = expand_braces(_text(node))
    return [None] if found is None else list(found)


def _feeds(nodes: list[Any]) -> int:
    """How many of ``nodes`` redirect standard input (``< f``, ``<<< w``, ``<&3``, ``<>``)."""
    count = 0
    for node in nodes:
        t = node.type
        if t in ("herestring_redirect", "heredoc_redirect"):
            count += 1
        elif t == "file_redirect":
            ops = [c.type for c in node.children if not c.is_named]
            count += any(op in ("<", "<&", "<>", "<&-") for op in ops)
    return count


def _ends_early(doc: Any, body: Any) -> bool:
    """Whether bash ends the here-document ``doc`` before the body tree-sitter gave it."""
    start = next((c for c in doc.children if c.type == "heredoc_start"), None)
    if start is None:
        return False
    strip = bool(doc.children) and _text(doc.children[0]) == "<<-"
    return heredoc_ends_early(_text(start), _text(body), strip)


def _skips_lines(doc: Any, body: Any) -> bool:
    """Whether tree-sitter starts the body later than the line after the ``<<EOF`` line (it
    joined a ``\\`` line and the next one, ``EOF``, into that line: bash ends the document
    there and runs the lines after it)."""
    start = next((c for c in doc.children if c.type == "heredoc_start"), None)
    if start is None:
        return False
    text: bytes = doc.text
    newline = text.find(b"\n", start.end_byte - doc.start_byte)
    return newline >= 0 and newline + 1 < body.start_byte - doc.start_byte


def _quoted_heredoc(node: Any) -> bool:
    """Whether a here-document's delimiter is quoted (its body is taken literally)."""
    start = next((c for c in node.children if c.type == "heredoc_start"), None)
    if start is None:
        return False
    delimiter = _text(start)
    return delimiter[:1] in ("'", '"') or "\\" in delimiter


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


def _heredoc_text(node: Any) -> str | None:
    """The text of a here-document, or None when it expands something (``$X``, ``$(…)``)."""
    start = next((c for c in node.children if c.type == "heredoc_start"), None)
    body = next((c for c in node.children if c.type == "heredoc_body"), None)
    if start is None or body is None:
        return None
    quoted = _quoted_heredoc(node)
    if not quoted and any(c.type != "heredoc_content" for c in body.named_children):
        return None
    text = _text(body)
    if not quoted and ("$" in text or "`" in text or "\\" in text):
        return None  # expanded by the shell (what tree-sitter left unparsed too)
    if node.children and _text(node.children[0]) == "<<-":  # leading tabs are removed
        text = "\n".join(line.lstrip("\t") for line in text.split("\n"))
    return text
