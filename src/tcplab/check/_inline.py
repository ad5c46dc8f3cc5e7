"""Inline programs: ``python -c CODE``, ``node -e CODE``, ``perl -e``/``ruby -e`` and awk programs.

The code is not run and not fully parsed; it is read for what the check can be sure of:

* shell commands it hands to a shell (``os.system("…")``, ``subprocess.run("…")`` or a list
  of string literals, ``execSync("…")``, awk's ``system("…")``) are checked as command lines;
* ``shutil.rmtree("P")`` and ``fs.rmSync("P", {recursive…})`` are checked as ``rm -rf P``,
  ``os.remove``/``unlink`` as ``rm P``;
* files opened for writing (``open(…, "w")``, ``writeFileSync``, ``write_text``) are MEDIUM,
  under a system path HIGH; network modules are MEDIUM with NETWORK_ACCESS;
* the program is SAFE only when every call and import in it is on a short allowlist of
  side-effect-free names (``print``, ``json.load``, ``console.log``, ``os.getcwd``…);
  anything else keeps the interpreter's own level (HIGH: arbitrary code).
"""

from __future__ import annotations

import re

from tcplab.descriptor import Capability, RiskLevel

__all__ = ["Inline", "inline_program"]

_STR = r"""(?:'([^'\\]*)'|"([^"\\]*)")"""
_SHELL_CALL = re.compile(
    r"(?:\bos\.system|\bos\.popen|\bsubprocess\.\w+|\bsystem|\bexecSync|\bexec|\bspawnSync|"
    r"\bpopen|\bcheck_output)\s*\(\s*" + _STR
)
_LIST_CALL = re.compile(r"\bsubprocess\.\w+\s*\(\s*\[([^\]]*)\]")
_RMTREE = re.compile(r"\b(?:shutil\.rmtree|rmSync|rmdirSync|fs\.rm)\s*\(\s*" + _STR)
_REMOVE = re.compile(r"\b(?:os\.remove|os\.unlink|unlinkSync|unlink)\s*\(\s*" + _STR)
_WRITE = re.compile(
    r"\bopen\s*\(\s*" + _STR + r"\s*,\s*['\"][wax]|\b(?:writeFileSync|appendFileSync|"
    r"writeFile)\s*\(\s*" + _STR + r"|\bPath\s*\(\s*" + _STR + r"\s*\)\s*\.write_(?:text|bytes)"
)
_NET = re.compile(r"\b(?:urllib|requests|http\.client|socket|httpx|aiohttp|fetch\s*\(|https?\.get)")
_CALL = re.compile(r"([A-Za-z_][\w.]*)\s*\(")
_IMPORT = re.compile(r"\bimport\s+([\w., ]+)|\bfrom\s+([\w.]+)\s+import|require\s*\(\s*" + _STR)
_MODULES = (
    "json sys math platform datetime re hashlib base64 collections itertools functools "
    "statistics string textwrap pprint decimal fractions uuid time os os.path path util "
    "tomllib csv fs shutil pathlib subprocess child_process"
)
_SAFE_MODULES = frozenset(_MODULES.split())
_CALLS = (
    "print sum range len min max sorted list dict set tuple str int float bool abs round map "
    "filter zip enumerate any all repr format hex ord chr isinstance type load loads dumps dump "
    "getcwd getenv get cpu_count listdir exists isfile isdir join basename dirname split "
    "splitext abspath realpath strip lower upper replace startswith endswith keys values items "
    "read readlines readline open sqrt floor ceil now today strftime isoformat match search "
    "findall fullmatch compile sha256 md5 sha1 hexdigest encode decode b64decode b64encode "
    "log error info warn parse stringify cwd version uname node_version python_version "
    "Counter defaultdict reverse sort append extend count index mean median stdev require "
    "readFileSync existsSync readdirSync statSync Path"
)
_SAFE_CALLS = frozenset(_CALLS.split())
_WORD = re.compile(r"[A-Za-z_]\w*")
_DANGER = (
    "system popen exec execv execve execl execlp execvp spawn spawnSync execSync execFile "
    "fork remove unlink unlinkSync rmtree rmdir rmSync rename renames replace_file move kill "
    "Popen run call check_call check_output getoutput getstatusoutput eval compile getattr "
    "setattr delattr globals locals vars breakpoint input chmod chown truncate symlink link "
    "write writeFile writeFileSync appendFile appendFileSync process_exit Function "
    "child_process"
)
_DANGEROUS = frozenset(_DANGER.split())
_PRIV = int(Capability.FILE_MODIFICATION)


class Inline:
    """What a program's text shows: shell lines to check, and its own parts."""

    __slots__ = ("parts", "shell", "verdict")

    def __init__(self) -> None:
        self.shell: list[str] = []
        self.parts: list[tuple[RiskLevel, int, str]] = []
        self.verdict: RiskLevel | None = None  # SAFE when everything is on the allowlist


def _str(m: re.Match[str], first: int = 1) -> str:
    return next((g for g in m.groups()[first - 1 :] if g is not None), "")


def _only_safe_names(code: str) -> bool:
    for m in _IMPORT.finditer(code):
        mods = m.group(1) or m.group(2) or _str(m, 3)
        for mod in mods.split(","):
            name = mod.strip().split(" ")[0]
            if name and name not in _SAFE_MODULES and name.split(".")[0] not in _SAFE_MODULES:
                return False
    for m in _CALL.finditer(code):
        if m.group(1).rsplit(".", 1)[-1] not in _SAFE_CALLS:
            return False
    # a function can be passed without being called: map(os.system, [...])
    if any(w in _DANGEROUS for w in _WORD.findall(code)):
        return False
    return "`" not in code and "$(" not in code and "__" not in code


def inline_program(
    code: str, system: re.Pattern[str], awk: bool = False, calls_need_parens: bool = True
) -> Inline:
    """Read one inline program (``awk``: an awk program, where only ``system()`` runs code).

    ``calls_need_parens=False`` (Perl, Ruby: ``unlink glob q{*}`` is a call) never gives SAFE.
    """
    out = Inline()
    spans: list[tuple[int, int]] = []
    for m in _SHELL_CALL.finditer(code):
        out.shell.append(_str(m))
        spans.append(m.span())
    for m in _LIST_CALL.finditer(code):
        items = re.findall(_STR, m.group(1))
        out.shell.append(" ".join(a or b for a, b in items))
        spans.append(m.span())
    for m in _RMTREE.finditer(code):
        out.shell.append(f"rm -rf {_str(m)!r}" if _str(m) else "rm -rf $X")
        spans.append(m.span())
    for m in _REMOVE.finditer(code):
        out.shell.append(f"rm {_str(m)!r}" if _str(m) else "rm $X")
        spans.append(m.span())
    for m in _WRITE.finditer(code):
        spans.append(m.span())
        path = _str(m)
        high = bool(path) and bool(system.match(path))
        level = RiskLevel.HIGH_RISK if high else RiskLevel.MEDIUM_RISK
        out.parts.append((level, _PRIV, f"the program writes {path or 'a file'}"))
    if _NET.search(code):
        out.parts.append(
            (RiskLevel.MEDIUM_RISK, int(Capability.NETWORK_ACCESS), "the program uses the network")
        )
    rest = code
    for a, b in sorted(spans, reverse=True):  # what was read above is accounted for
        rest = rest[:a] + " " + rest[b:]
    if out.parts:
        rest = re.sub(r"\.write\s*\(", " ", rest)
    if awk or (calls_need_parens and _only_safe_names(rest)):
        out.verdict = RiskLevel.SAFE
    return out
