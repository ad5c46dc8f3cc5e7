"""One simple command's arguments as the knowledge rules see them (:class:`View`)."""

from __future__ import annotations

from collections.abc import Set as AbstractSet

__all__ = ["LOWER_CLUSTER", "NO_OPTIONS", "Options", "View"]

_NO_FLAGS: frozenset[str] = frozenset()
LOWER_CLUSTER = 4  # longest cluster of letters whose letters a lowering rule trusts (-avzn)


class Options:
    """A tool's options as :class:`View` reads them: those that take the next word as a value
    (``with_arg``) and those known not to (``known``), also as letters for ``-xyz`` clusters."""

    __slots__ = ("arg_letters", "known", "known_letters", "with_arg")

    def __init__(self, with_arg: frozenset[str] = _NO_FLAGS, known: frozenset[str] = _NO_FLAGS):
        self.with_arg, self.known = with_arg, known
        self.arg_letters = frozenset(o[1] for o in with_arg if len(o) == 2 and o[0] == "-")
        self.known_letters = frozenset(o[1] for o in known if len(o) == 2 and o[0] == "-")


NO_OPTIONS = Options()  # a tool the knowledge does not describe


class View:
    """One simple command's arguments as the rules see them (options, operands, subcommand).

    ``shorts``/``longs`` are every flag present (``raise`` rules match them). A rule that can
    lower a level matches only ``shorts_lower``/``longs_lower``: flags that cannot be the value
    of the option before them (``mkfs.ext2 -L -n /dev/sdb1`` labels the volume "-n"; it is not
    a dry run). An option is taken as possibly value-taking unless the tool's ``known`` flags
    (those its rules name, its ``options_with_arg``, a few universal booleans) include it;
    ``-Enodiscard`` (a value attached) and clusters longer than four letters never count.
    A view is read-only: with no option and no dynamic word its lists are one shared list.
    """

    __slots__ = (
        "argv",
        "argv_lower",
        "dynamic",
        "lead",
        "longs",
        "longs_lower",
        "operands",
        "operands_lower",
        "plain",
        "shorts",
        "shorts_lower",
        "sub",
        "words",
    )

    argv: list[str]
    argv_lower: list[str]  # the words a lowering rule's argv patterns may match
    operands: list[str]
    operands_lower: list[str]  # operands that cannot be an option's value
    shorts: AbstractSet[str]
    shorts_lower: AbstractSet[str]
    longs: AbstractSet[str]
    longs_lower: AbstractSet[str]
    lead: int  # index in argv of the first operand (-1: none)
    sub: str | None
    plain: bool  # every argument a static word that does not start with `-`

    def __init__(self, words: list[str | None], options: Options = NO_OPTIONS) -> None:
        self.words = words
        self.dynamic = False
        argv = words[1:]
        for w in argv:
            if w is None or w[:1] == "-":
                self.plain = False
                self._read(argv, options)
                return
        # operands only (``git status``, ``ls src/``), the common case
        self.plain = True  # static words, none starting with `-`
        static: list[str] = argv  # type: ignore[assignment]  # no None in it
        self.argv = self.argv_lower = self.operands = self.operands_lower = static
        self.shorts = self.shorts_lower = self.longs = self.longs_lower = _NO_FLAGS
        self.lead = 0 if static else -1
        self.sub = static[0] if static else None

    def _read(self, args: list[str | None], options: Options) -> None:
        """The general case: options, their possible values, ``--``, dynamic words."""
        with_arg, known = options.with_arg, options.known
        argv: list[str] = []
        argv_lower: list[str] = []
        operands: list[str] = []
        operands_lower: list[str] = []
        shorts: set[str] = set()
        shorts_lower: set[str] = set()
        longs: set[str] = set()
        longs_lower: set[str] = set()
        lead = -1
        skip = after_dd = doubt = False
        for w in args:
            if w is None:
                self.dynamic, skip, doubt = True, False, False
                continue
            argv.append(w)
            # a possible option value, or a declared one that looks like a flag (psql -T -l),
            # is not a flag for a lowering rule (a declared value such as -o /dev/null is seen)
            if not doubt and not (skip and w[:1] == "-"):
                argv_lower.append(w)
            if skip:
                skip = doubt = False
            elif after_dd or w == "-" or w[:1] != "-":
                if lead < 0:
                    lead = len(argv) - 1
                operands.append(w)
                if not doubt:
                    operands_lower.append(w)
                doubt = False
            elif w == "--":
                after_dd, doubt = True, False
            elif w[1] == "-":
                name, eq, _ = w.partition("=")
                longs.add(name)
                if not doubt:
                    longs_lower.add(name)
                skip = w in with_arg
                doubt = not eq and not skip and name not in known
            elif len(w) == 2:  # -x alone: the common case, inline
                c = w[1]
                shorts.add(c)
                if c.isalpha() and not doubt:
                    shorts_lower.add(c)
                skip = w in with_arg
                doubt = not skip and w not in known
            else:
                skip, doubt = _cluster(w, options, doubt, shorts, shorts_lower)
        self.argv, self.argv_lower, self.lead = argv, argv_lower, lead
        self.operands, self.operands_lower = operands, operands_lower
        self.shorts, self.shorts_lower = shorts, shorts_lower
        self.longs, self.longs_lower = longs, longs_lower
        self.sub = operands[0] if operands else None

    def has_flag(self, flag: str, lower: bool = False) -> bool:
        """``--long`` (also as ``--long=value``), ``-x`` (also inside ``-xyz``), or ``-word``."""
        if flag.startswith("--"):
            return flag in (self.longs_lower if lower else self.longs)
        if len(flag) == 2:
            return flag[1] in (self.shorts_lower if lower else self.shorts)
        return flag in self.argv


def _cluster(
    word: str, options: Options, doubt: bool, shorts: set[str], shorts_lower: set[str]
) -> tuple[bool, bool]:
    """Read ``-xyz`` like getopt: a letter that takes a value ends the cluster (the rest is its
    value). Adds its letters to ``shorts`` (and ``shorts_lower`` when a lowering rule may trust
    them); returns (the next word is that value, the next word may be a value)."""
    letters = word[1:]
    takes = options.arg_letters
    if takes and not takes.isdisjoint(letters):
        for i, c in enumerate(letters):
            if c in takes:
                letters = letters[: i + 1]
                break
    shorts.update(letters)
    if not doubt and len(letters) <= LOWER_CLUSTER and letters.isalpha():
        shorts_lower.update(letters)
    if len(letters) != len(word) - 1:  # a value attached (-Enodiscard): not read as a flag
        return False, False
    last = letters[-1]
    skip = last in takes
    return skip, not skip and last not in options.known_letters
