"""Wrappers: commands that run another command (``sudo``, ``env``, ``xargs``, ``bash -c``…).

:func:`unwrap` turns a wrapper's words into the inner commands to check, plus what the wrapper
itself adds (a level, capabilities, a reason). Unknown options of a known wrapper are taken as
flags without a value: a misparse makes a word the command name, which is then unknown and needs
approval — never an approval by accident.
"""

from __future__ import annotations

import re

from tcplab.descriptor import Capability, RiskLevel

__all__ = ["INTERPRETERS", "SHELLS", "WRAPPERS", "Unwrapped", "unwrap"]

SHELLS = frozenset({"sh", "bash", "zsh", "dash", "ksh"})
INTERPRETERS = SHELLS | frozenset(
    {"python", "python3", "python2", "node", "perl", "ruby", "php", "lua"}
)
_PRIV = int(Capability.PRIVILEGE_ESCALATION | Capability.REQUIRES_ROOT)


class _Spec:
    __slots__ = ("assign", "caps", "level", "skip", "why", "with_arg")

    def __init__(
        self,
        with_arg: str = "",
        level: RiskLevel = RiskLevel.SAFE,
        caps: int = 0,
        skip: int = 0,
        assign: bool = False,
        why: str = "runs the command that follows",
    ) -> None:
        self.with_arg = frozenset(with_arg.split())
        self.level, self.caps, self.skip, self.assign, self.why = level, caps, skip, assign, why


_H = RiskLevel.HIGH_RISK
WRAPPERS: dict[str, _Spec] = {
    "sudo": _Spec(
        "-u -g -h -p -C -D -r -t -T -U --user --group --host --prompt --chdir --role --type "
        "--close-from --other-user --command-timeout",
        _H,
        _PRIV,
        assign=True,
        why="runs the command as another user (root)",
    ),
    "doas": _Spec("-u -C", _H, _PRIV, why="runs the command as another user (root)"),
    "env": _Spec("-u --unset -C --chdir", assign=True),
    "nice": _Spec("-n --adjustment"),
    "ionice": _Spec("-c -n -p -P -u --class --classdata"),
    "timeout": _Spec("-s --signal -k --kill-after", skip=1),
    "nohup": _Spec(),
    "stdbuf": _Spec("-i -o -e --input --output --error"),
    "setsid": _Spec(),
    "time": _Spec("-f -o --format --output"),
    "exec": _Spec("-a"),
    "builtin": _Spec(),
    "command": _Spec(),
    "unbuffer": _Spec(),
    "chroot": _Spec("--userspec --groups", _H, _PRIV, skip=1, why="runs in another root"),
    # -e, -i, -l, --eof, --replace, --max-lines take only an attached value (-lN, --eof=S)
    "xargs": _Spec(
        "-I -n -P -d -a -E -L -s --max-args --max-procs --delimiter --arg-file "
        "--max-chars --process-slot-var",
        why="runs the command with arguments read from input",
    ),
    # long-tail wrappers (knowledge v1.3): the inner command decides
    "flock": _Spec("-w --wait --timeout -E --conflict-exit-code", skip=1, why="holds a lock"),
    "chronic": _Spec(why="hides the command's output unless it fails"),
    "ifne": _Spec(why="runs the command if standard input is not empty"),
    "lckdo": _Spec("-W", skip=1, why="holds a lock"),
    "taskset": _Spec(skip=1, why="pins the command to CPUs"),
    "fakeroot": _Spec("-l --lib --faked -i -s -b", why="fakes root file ownership"),
    "linux32": _Spec(why="sets the reported architecture"),
    "linux64": _Spec(why="sets the reported architecture"),
    "strace": _Spec(
        "-o -e -p -s -u -E -P -a -b -I -O -S -U -X --output --signal --trace --status --user "
        "--env --path --abbrev --verbose --raw --read --write --quiet --silence --seccomp-bpf",
        why="traces the command",
    ),
    "ltrace": _Spec(
        "-o -e -p -s -u -a -A -D -F -l -n -w -x --output --library --config",
        why="traces the command",
    ),
}


class Unwrapped:
    """What a wrapper runs: ``inner`` word lists (or ``scripts`` to re-parse), its own part,
    and the files its own options write (``time -o FILE``; None: a dynamic path)."""

    __slots__ = ("caps", "inner", "level", "scripts", "why", "writes")

    def __init__(self, level: RiskLevel, caps: int, why: str) -> None:
        self.level, self.caps, self.why = level, caps, why
        self.inner: list[list[str | None]] = []
        self.scripts: list[str | None] = []
        self.writes: list[str | None] = []


def _skip_options(words: list[str | None], spec: _Spec) -> int | None:
    """Index of the wrapped command's name, or None when a dynamic word hides it."""
    i = 1
    while i < len(words):
        w = words[i]
        if w is None:
            return None
        if w == "--":
            return i + 1
        if w.startswith("-") and len(w) > 1:
            i += 2 if w in spec.with_arg else 1
        elif spec.assign and "=" in w and w.split("=", 1)[0].isidentifier():
            i += 1
        else:
            break
    return i + spec.skip


# wrappers whose own options write a file or act on a running process
_OUTPUT = {"time": ("-o", "--output"), "strace": ("-o",), "ltrace": ("-o",)}
_PID = {"strace": ("-p",), "ltrace": ("-p",), "ionice": ("-p", "-P", "-u")}


def _own_options(name: str, options: list[str | None], out: Unwrapped) -> None:
    """``time -o FILE`` writes FILE; ``strace -p PID`` attaches to another process."""
    for i, w in enumerate(options):
        if w is None:
            continue
        for opt in _OUTPUT.get(name, ()):
            if w == opt:
                out.writes.append(options[i + 1] if i + 1 < len(options) else None)
            elif w.startswith(opt + ("=" if opt.startswith("--") else "")) and w != opt:
                out.writes.append(w[len(opt) :].lstrip("="))
        if any(w == p or (w.startswith(p) and not w.startswith("--")) for p in _PID.get(name, ())):
            out.level, out.caps = _H, out.caps | int(Capability.SYSTEM_MODIFICATION)
            out.why = f"{name}: acts on a running process"


def _generic(name: str, words: list[str | None]) -> Unwrapped:
    spec = WRAPPERS[name]
    out = Unwrapped(spec.level, spec.caps, f"{name}: {spec.why}")
    if name == "command" and any(w in ("-v", "-V") for w in words[1:2]):
        out.why = "command -v: looks a name up"
        return out
    start = _skip_options(words, spec)
    if start is None:
        out.level, out.why = RiskLevel.UNKNOWN, f"{name}: a dynamic word hides the command"
        return out
    if name in _OUTPUT or name in _PID:
        _own_options(name, words[1 : min(start, len(words))], out)
    if name == "env" and any(
        w is None or w.startswith(("-S", "--split-string")) for w in words[1:start]
    ):  # env -S'rm -rf ${HOME}' true: the string becomes the command, with variables expanded
        out.level, out.why = RiskLevel.UNKNOWN, "env -S: a string is split into the command"
        return out
    inner = words[start:]
    if name == "xargs":
        repl = _xargs_replace(words[1:start])
        if repl:  # -I R: words holding R get input text
            inner = [None if w is None or repl in w else w for w in inner]
        inner = inner or ["echo"]
        if not repl:  # arguments come from the input (with -I they replace the string)
            inner = [*inner, None]
    if inner:
        out.inner.append(inner)
    return out


def _xargs_replace(options: list[str | None]) -> str | None:
    """The replacement string of ``xargs -I R`` / ``-iR`` / ``--replace[=R]``, if any."""
    for i, w in enumerate(options):
        if w == "-I" and i + 1 < len(options):
            return options[i + 1] or None
        if w is not None and w.startswith(("-I", "-i")) and len(w) > 2:
            return w[2:]
        if w in ("-i", "--replace") or (w is not None and w.startswith("--replace=")):
            return w.split("=", 1)[1] if "=" in w else "{}"
    return None


def _shell(name: str, words: list[str | None]) -> Unwrapped | None:
    """``bash -c SCRIPT``: the script is re-parsed; other shell forms are tools (None)."""
    for i, w in enumerate(words[1:], 1):
        if w is None:
            return None
        if not w.startswith(("-", "+")) or w.startswith("--"):
            if w.startswith("--"):
                continue
            return None
        if "c" in w[1:]:
            out = Unwrapped(RiskLevel.SAFE, 0, f"{name} -c: the script is checked")
            out.scripts.append(words[i + 1] if i + 1 < len(words) else "")
            return out
    return None


_SSH_ARG = frozenset(
    "-B -b -c -D -E -e -F -I -i -J -L -l -m -O -o -p -Q -R -S -W -w".split()  # noqa: SIM905
)


_SSH_LOCAL = re.compile(
    r"(?i)(ProxyCommand|LocalCommand|PermitLocalCommand|KnownHostsCommand|PKCS11Provider|"
    r"SecurityKeyProvider|ForwardAgent|RemoteForward|LocalForward|DynamicForward|Tunnel\b|"
    r"Include|Match|IdentityAgent)"
)
# options that run or load local code, hand local keys or ports to the other side, or write
# a local file: -F config (may hold ProxyCommand), -I PKCS#11 library, -A agent forwarding,
# -R/-L/-D/-w tunnels, -E log file, -M master socket, -S control path, -J jump host proxy
_SSH_RISKY = re.compile(r"^-([FIRLDwEJ]|[A-Za-z]*A)")


def _ssh(words: list[str | None]) -> Unwrapped:
    """``ssh HOST CMD``: CMD is checked (the connection itself is LOW); a shell is HIGH."""
    out = Unwrapped(_H, int(Capability.NETWORK_ACCESS), "ssh: remote interactive shell")
    i, no_tty, local_cmd = 1, False, False
    while i < len(words):
        w = words[i]
        if w is None or not w.startswith("-"):
            break
        value = words[i + 1] if i + 1 < len(words) else None
        no_tty = no_tty or w == "-T"
        local_cmd = local_cmd or (
            w == "-o" and (value is None or _SSH_LOCAL.search(value) is not None)
        )
        local_cmd = local_cmd or (w.startswith("-o") and _SSH_LOCAL.search(w) is not None)
        local_cmd = local_cmd or _SSH_RISKY.match(w) is not None
        i += 2 if w in _SSH_ARG else 1
    rest = words[i + 1 :]
    if i < len(words) and rest:
        out.level = RiskLevel.LOW_RISK
        out.why = (
            f"ssh: remote execution on {words[i] or 'a dynamic host'} (the command is checked)"
        )
        static = [w for w in rest if w is not None]
        out.scripts.append(" ".join(static) if len(static) == len(rest) else None)
    elif no_tty:  # still a remote shell: it runs whatever arrives on standard input
        out.why = "ssh -T: remote shell without a terminal (runs commands from standard input)"
    if local_cmd:
        out.level = _H
        out.why = "ssh: an option runs local code, forwards keys or ports, or writes a file"
    return out


def _su(words: list[str | None]) -> Unwrapped:
    out = Unwrapped(_H, _PRIV, "su: runs as another user")
    for i, w in enumerate(words[1:], 1):
        if w in ("-c", "--command"):
            out.scripts.append(words[i + 1] if i + 1 < len(words) else "")
    return out


def _eval(name: str, words: list[str | None]) -> Unwrapped:
    out = Unwrapped(RiskLevel.SAFE, 0, f"{name}: the text is checked as a command")
    rest = words[1:]
    static = [w for w in rest if w is not None]
    out.scripts.append(" ".join(static) if len(static) == len(rest) else None)
    return out


_EXEC = ("-exec", "-execdir", "-ok", "-okdir")
_DELETERS = frozenset({"rm", "unlink", "shred", "rmdir"})


def _find_start(words: list[str | None]) -> str | None:
    """The first start path of ``find`` when every start is static and relative (a path under
    the working directory); None otherwise (absolute, home, dynamic: ``{}`` stays dynamic)."""
    starts: list[str | None] = []
    for w in words[1:]:
        if w is not None and (w.startswith("-") or w in ("(", "!", ",")):
            if w in ("-H", "-L", "-P") and not starts:
                continue
            break
        starts.append(w)
    if not starts:
        return "."
    if any(w is None or w.startswith(("/", "~")) for w in starts):
        return None
    return starts[0]


def _find(words: list[str | None]) -> Unwrapped:
    """``find … -exec CMD {} ;``: each -exec/-execdir/-ok/-okdir command.

    ``{}`` is a path find found under its start: ``START/{}`` when the start is a static
    relative path, else dynamic. A deleting command (``rm``, ``unlink``, ``shred``, ``rmdir``)
    also counts as ``-delete`` for find's own rules (deleting under / or a system path, or a
    whole tree with no name/time/size test, is CRITICAL there)."""
    out = Unwrapped(RiskLevel.SAFE, 0, "find -exec: runs a command per file")
    start = _find_start(words)
    own: list[str | None] = []
    i = 0
    while i < len(words):
        w = words[i]
        if w in _EXEC:
            j = i + 1
            while j < len(words) and words[j] not in (";", "+"):
                j += 1
            inner = [_found(x, start) for x in words[i + 1 : j]]
            out.inner.append(inner or [None])
            head = inner[0] if inner else None
            if head is not None and head.rsplit("/", 1)[-1] in _DELETERS:
                own.append("-delete")
            i = j + 1
            continue
        own.append(w)
        i += 1
    out.inner.insert(0, own)
    return out


def _found(word: str | None, start: str | None) -> str | None:
    """``{}`` alone is the found path; inside a longer word (a ``sh -c`` script) it is dynamic."""
    if word is None or "{}" not in word:
        return word
    if word != "{}" or start is None:
        return None
    return f"{start.rstrip('/') or '.'}/{{}}"


def _deferred(name: str, words: list[str | None]) -> Unwrapped:
    """``trap 'CMD' EXIT`` and ``alias ls='CMD'``: text that runs later is checked now (a
    trap runs when the shell exits; an alias replaces a command for the rest of the session)."""
    out = Unwrapped(RiskLevel.SAFE, 0, f"{name}: the text runs later and is checked now")
    rest = [w for w in words[1:] if w != "--"]
    if name == "trap":
        if rest and rest[0] is not None and rest[0].startswith("-"):  # trap -l / trap -p
            return out
        if len(rest) >= 2:  # trap ACTION SIGNAL…; ``trap - SIG`` and ``trap '' SIG`` reset
            action = rest[0]
            if action not in ("-", ""):
                out.scripts.append(action)
        return out
    for w in rest:  # alias NAME=VALUE…; ``alias NAME`` prints it
        if w is None:
            out.scripts.append(None)
        elif "=" in w and not w.startswith("-"):
            out.scripts.append(w.split("=", 1)[1])
    return out


_MAYBE = frozenset({*WRAPPERS, *SHELLS, "ssh", "su", "eval", "watch", "find", "trap", "alias"})


def unwrap(name: str, words: list[str | None]) -> Unwrapped | None:
    """The inner commands of wrapper ``name`` (basename of ``words[0]``); None: not a wrapper."""
    if name not in _MAYBE:  # most tools: one set lookup
        return None
    if name in WRAPPERS:
        return _generic(name, words)
    if name in SHELLS:
        return _shell(name, words)
    if name == "ssh":
        return _ssh(words)
    if name == "su":
        return _su(words)
    if name in ("eval", "watch"):
        return _eval(name, words)
    if name in ("trap", "alias"):
        return _deferred(name, words)
    if name == "find" and any(w in _EXEC for w in words):
        return _find(words)
    return None
