"""The knowledge file against real man pages: every flag a rule names exists in the tool's page.

Pages are read from ``/usr/share/man`` (troff and mdoc sources, gzip); a rule with subcommands
is also looked up in ``TOOL-SUB`` pages (``git-push.1``). The exceptions are listed with the
reason. Needs the man pages of the common tools installed (CI: see docs/check.md).
"""

from __future__ import annotations

import gzip
import re
from functools import cache
from pathlib import Path

import pytest
import yaml

from tcplab.check._sources import shipped_paths

ROOTS = [Path("/usr/share/man"), Path("/usr/local/share/man")]
# (tool, flag): why the page does not show it
EXCEPTIONS = {
    ("base64", "-o"): "BSD/macOS base64 -o FILE (the issue's example); GNU base64 has no -o",
    ("base64", "--output"): "BSD/macOS base64",
    ("bzip2", "-l"): "shares gzip's rules (anchor); bzip2 has no --list",
    ("bzip2", "--list"): "shares gzip's rules (anchor)",
    ("awk", "--file"): "gawk's long option; Debian's awk page is mawk's",
    ("git", "--ext-diff"): "in git-diff(1)/git-log(1), the rule applies to any subcommand",
    ("git", "--upload-pack"): "in git-clone(1)/git-fetch(1)",
    ("git", "--receive-pack"): "in git-push(1)",
    ("git", "--exec"): "in git-push(1)/git-archive(1)",
    ("git", "--output"): "in git-diff(1)/git-log(1)/git-format-patch(1)",
    ("dpkg", "--force-all"): "the page documents --force-things with the list of things",
    ("dpkg", "--force-remove-essential"): "--force-things",
    ("dpkg", "--force-depends"): "--force-things",
    ("pip", "--dry-run"): "newer than the installed pip page",
    ("pip3", "--dry-run"): "newer than the installed pip page",
    ("sh", "--version"): "dash has no --version (the default rule; harmless: SAFE on an error)",
    ("dash", "--version"): "dash has no --version",
    ("perl", "-v"): "documented in perlrun(1) (package perl-doc)",
    ("perl", "--version"): "documented in perlrun(1) (package perl-doc)",
}
# apt shares apt-get's rules (anchor): its flags are documented in apt-get(8)
ALIASES = {
    "perl": ["perlrun"],
    "apt": ["apt-get"],
    "pip3": ["pip"],
    "gunzip": ["gzip"],
    "ip6tables": ["iptables"],
}


def _clean(text: str) -> str:
    text = re.sub(r"\\f(\[[^\]]*\]|\(..|.)", "", text)
    text = text.replace("\\-", "-").replace("\\(hy", "-").replace("\\(em", "-").replace("\\&", "")
    return re.sub(r"(^|\s)\.?Fl\s+(\S)", r"\1-\2", text, flags=re.M)  # mdoc: .Fl x is -x


@cache
def _page(name: str) -> str | None:
    for root in ROOTS:
        for sec in ("1", "8", "1p", "1ssl"):
            path = root / f"man{sec[0]}" / f"{name}.{sec}.gz"
            if path.is_file():
                return _clean(gzip.decompress(path.read_bytes()).decode("utf-8", "replace"))
    return None


def _knowledge() -> dict[str, dict[str, object]]:
    yaml_path, _ = shipped_paths()
    raw = yaml.safe_load(yaml_path.read_text(encoding="utf-8"))
    return {str(k): v or {} for k, v in raw["tools"].items()}


def test_tool_names_are_strings() -> None:
    yaml_path, _ = shipped_paths()
    raw = yaml.safe_load(yaml_path.read_text(encoding="utf-8"))
    # YAML 1.1 reads true/false/yes/no as booleans: such a key would name the tool "True"
    assert [k for k in raw["tools"] if not isinstance(k, str)] == []


LONG_TAIL = "# Long tail (knowledge v1.3"


def _long_tail() -> set[str]:
    """The tools of the file's long-tail section (written in bulk from the man pages)."""
    yaml_path, _ = shipped_paths()
    text = yaml_path.read_text(encoding="utf-8")
    tail = text[text.index(LONG_TAIL) :]
    return {str(k) for k in yaml.safe_load("tools:\n" + tail.split("\n", 1)[1])["tools"]}


def _missing_flags(tools: dict[str, dict[str, object]]) -> tuple[int, int, list[str]]:
    checked, missing, pages = 0, [], 0
    for tool, spec in tools.items():
        base = [p for p in (_page(n) for n in [tool, *ALIASES.get(tool, [])]) if p]
        if not base:
            continue
        pages += 1
        for rule in spec.get("rules") or []:  # type: ignore[attr-defined]
            texts = base + [_page(f"{tool}-{s}") or "" for s in rule.get("sub", [])]
            for flag in [*rule.get("flags", []), *rule.get("all_flags", [])]:
                checked += 1
                pattern = re.compile(r"(?<![\w-])" + re.escape(flag) + r"(?![\w-])")
                if not any(pattern.search(t) for t in texts) and (tool, flag) not in EXCEPTIONS:
                    missing.append(f"{tool} {flag}")
    return pages, checked, missing


def test_every_flag_of_a_rule_is_in_the_tools_man_page() -> None:
    """Hand-written tools: every flag, exceptions listed with the reason."""
    tail = _long_tail()
    pages, checked, missing = _missing_flags(
        {t: s for t, s in _knowledge().items() if t not in tail}
    )
    if pages < 20:
        pytest.skip(f"only {pages} man pages of knowledge tools are installed here")
    assert missing == []
    assert checked > 150


def test_long_tail_flags_are_in_the_man_pages() -> None:
    """The long tail (1,126 tools written in bulk from the pages): a regression guard, not a
    proof. On 2026-12-02, 1,076 of the 1,144 flags its rules name (94.1%) were found verbatim
    in the tool's page; the 68 others are family anchors whose members document fewer flags
    (rsync-ssl, perl5.36.0, the ar key letters), undocumented aliases (gpg
    --delete-secret-key, keytool -genkey), flags of newer versions (systemd-tmpfiles --purge)
    or text the page formats differently (patch --dry-run). A rule on a flag the tool lacks
    never matches a working command line."""
    tail = _long_tail()
    pages, checked, missing = _missing_flags({t: s for t, s in _knowledge().items() if t in tail})
    if pages < 500:
        pytest.skip(f"only {pages} man pages of long-tail tools are installed here")
    assert checked > 1000
    assert len(missing) <= 0.06 * checked, missing


ISSUE_TOOLS = (
    "git find sed awk rm cp mv chmod chown dd tar curl wget ssh scp rsync docker kubectl "
    "systemctl apt apt-get dpkg pip npm make python python3 node bash mkfs wipefs shred fdisk"
)


def test_the_tools_the_issue_lists_are_covered() -> None:
    tools = _knowledge()
    assert [t for t in ISSUE_TOOLS.split() if t not in tools] == []
    # ssh's remote command is checked by the wrapper table, not by rules
    lowering = {
        t
        for t, spec in tools.items()
        for r in spec.get("rules") or []  # type: ignore[attr-defined]
        if r.get("effect") in ("final", "set")
    }
    raising = {
        t
        for t, spec in tools.items()
        for r in spec.get("rules") or []  # type: ignore[attr-defined]
        if r.get("effect", "raise") == "raise"
    }
    both = {"git", "tar", "rsync", "docker", "kubectl", "apt", "dpkg", "npm", "make", "curl"}
    assert both <= lowering & raising
