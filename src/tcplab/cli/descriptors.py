"""``tcplab descriptors``: generate a registry from documentation and evaluate it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from tcplab.cli._console import console, emit_json
from tcplab.config import get_settings
from tcplab.corpus import read_corpus
from tcplab.errors import UsageError
from tcplab.generator import (
    GeneratorContext,
    default_explain_path,
    evaluate_registry,
    generate_registry,
    get_generator,
    read_explanations,
    training_cv,
)
from tcplab.labels import read_labels
from tcplab.registry import Registry

__all__ = ["app", "default_labels_path"]

app = typer.Typer(
    help="Generate descriptors from documentation; evaluate them against labels.",
    no_args_is_help=True,
)


def default_labels_path() -> Path:
    """The shipped label set (``data/labels/tcplab-v1.csv`` of the source tree)."""
    from tcplab.resources import shipped_labels

    return shipped_labels("tcplab-v1.csv")


@app.command("generate")
def generate_cmd(
    corpus: Annotated[
        Path | None,
        typer.Option("--corpus", help="Corpus file (default: TCPLAB_HOME/corpus/corpus.parquet)."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Registry to write (default: TCPLAB_HOME/registry/tools.tcpdb)."
        ),
    ] = None,
    explain: Annotated[
        Path | None,
        typer.Option(
            "--explain", help="Explanations JSONL (default: next to --out, *.explain.jsonl)."
        ),
    ] = None,
    rules: Annotated[
        Path | None,
        typer.Option("--rules", help="Rules YAML (default: the shipped rules_v3.yaml)."),
    ] = None,
    generator: Annotated[
        str,
        typer.Option(
            "--generator",
            help="rules (default), ordinal, knn, ensemble or llm (docs/generators.md).",
        ),
    ] = "rules",
    train_labels: Annotated[
        Path | None,
        typer.Option(
            "--train-labels",
            help="Training labels of the learned generators (default: shipped tcplab-v1.csv).",
        ),
    ] = None,
    threshold: Annotated[
        float | None,
        typer.Option("--threshold", help="Abstention threshold (default: chosen by grouped CV)."),
    ] = None,
    llm_config: Annotated[
        Path | None,
        typer.Option("--llm-config", help="llm generator: the LLM arm's YAML (docs/llm.md)."),
    ] = None,
    max_cost: Annotated[
        float | None,
        typer.Option("--max-cost", help="llm generator: stop sending tools beyond this USD."),
    ] = None,
    no_cache: Annotated[
        bool,
        typer.Option(
            "--no-cache",
            help="Learned generators: retrain instead of loading the trained model from "
            "TCPLAB_HOME/cache/generator (the new model replaces the cached one).",
        ),
    ] = False,
) -> None:
    """Generate a v2 descriptor registry for every tool of a corpus (rules or a learned model)."""
    settings = get_settings()
    corpus_path = corpus or settings.corpus_dir / "corpus.parquet"
    if not corpus_path.exists():
        raise UsageError(f"corpus {corpus_path} does not exist; run `tcplab corpus scan` first")
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise UsageError(f"--threshold must be between 0 and 1, not {threshold}")
    out_path = out or settings.registry_dir / "tools.tcpdb"
    tools = read_corpus(corpus_path)
    if max_cost is not None and max_cost < 0:
        raise UsageError(f"--max-cost must be at least 0, not {max_cost}")
    ctx = GeneratorContext(
        labels=train_labels,
        rules=rules,
        threshold=threshold,
        llm={"config": str(llm_config)} if llm_config else None,
        max_cost_usd=max_cost,
        model_cache=not no_cache,
    )
    gen = get_generator(generator, ctx)
    with console.status(f"generating descriptors ({gen.name})"):
        result = generate_registry(tools, out_path, explain=explain, generator=gen)
    _print_result(result)


def _print_result(result: Any) -> None:
    """What was written, by which generator (and, for a learned one, its CV figures)."""
    levels = ", ".join(f"{k} {v}" for k, v in result.by_level.items())
    info = dict(result.info or {})
    what = (
        f"rules {result.rules_version} (sha256 {result.rules_sha256[:12]})"
        if result.generator == "rules"
        else f"generator llm ({info.get('llm')}, spent {info.get('spent_usd')} USD)"
        if result.generator == "llm"
        else f"generator {result.generator} (model sha256 {str(info.get('model_sha256'))[:12]}, "
        f"threshold {info.get('threshold')}, guard {info.get('guard')})"
    )
    console.print(
        escape(
            f"wrote {result.n_tools} descriptors to {result.registry} in {result.seconds:.2f} s "
            f"({levels})\nexplanations: {result.explain}\n{what}; "
            "performance fields are 0 = unknown"
        ),
        highlight=False,
    )
    if "model_cache" in info:
        console.print(escape(f"model: {info['model_cache']}"), highlight=False)
    if "cv" in info:
        _print_cv(info["cv"])


def _print_cv(cv: Any) -> None:
    """The grouped-CV figures of a learned generator on its training labels."""
    fig = cv["abstention"]["cv"]
    cal = cv["calibration"]
    console.print(
        f"grouped {cv['folds']}-fold CV on {cv['n_training_tools']} training tools "
        f"({cv['n_groups']} groups), with abstention: unsafe approvals "
        f"{fig['unsafe_approval_rate']:.3f}, critical under-calls "
        f"{fig['critical_undercall_rate']:.3f}, friction {fig['friction_rate']:.3f}, coverage "
        f"{fig['coverage']:.3f}, exact (covered) {fig['exact_covered']:.3f}, within-one (covered) "
        f"{fig['within_one_covered']:.3f}; calibration ECE {cal['ece']:.3f}, Brier "
        f"{cal['brier']:.3f}; capability macro-F1 {cv['capability_macro_f1']:.3f}",
        highlight=False,
    )


def _print_headline(ev: Any, reg_path: Path, labels_path: Path | str | None) -> None:
    """Safety first (decision-level, with CIs), then accuracy."""
    console.print(
        f"[bold]{escape(str(reg_path))}[/] vs {escape(str(labels_path))} "
        f"(split {ev.split}, {ev.n} tools)",
        highlight=False,
    )
    for metric, entry in ev.safety.items():
        value = "—" if entry["value"] is None else f"{entry['value']:.3f}"
        ci = (
            f"  95% CI {entry['ci_low']:.3f}–{entry['ci_high']:.3f}"
            if entry["ci_low"] is not None
            else ""
        )
        console.print(f"{metric:<24}{value}{ci}  (n={entry['n']} tools)", highlight=False)
    console.print(
        f"exact accuracy      {ev.exact:.3f}\nwithin-one accuracy {ev.within_one:.3f}\n"
        f"quadratic κ         {ev.kappa_quadratic:.3f} (over {ev.n_kappa} tools with a known "
        f"prediction)\nUNKNOWN predictions {ev.n_unknown}   missing from registry {ev.n_missing}",
        highlight=False,
    )


def _print_curve(curve: Any) -> None:
    """The coverage–accuracy curve (only for registries whose records carry a confidence)."""
    if not curve:
        return
    cells = ", ".join(f"{p['coverage']:.0%}: {p['exact']:.2f}/{p['within_one']:.2f}" for p in curve)
    console.print(f"coverage–accuracy (exact/within-one at coverage) {cells}", highlight=False)


@app.command("evaluate")
def evaluate_cmd(
    registry: Annotated[
        Path | None,
        typer.Option(
            "--registry", help="Registry to score (default: TCPLAB_HOME/registry/tools.tcpdb)."
        ),
    ] = None,
    labels: Annotated[
        Path | None,
        typer.Option(
            "--labels", help="Labels CSV (default: the shipped data/labels/tcplab-v1.csv)."
        ),
    ] = None,
    split: Annotated[str, typer.Option("--split", help="test, dev or all.")] = "test",
    explain: Annotated[
        Path | None,
        typer.Option("--explain", help="Explanations JSONL (default: next to the registry)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Exact and within-one accuracy, quadratic-weighted κ, per-class P/R, confusion matrix."""
    if split not in ("test", "dev", "all"):
        raise UsageError(f"--split must be test, dev or all, not {split!r}")
    if explain is not None and not explain.is_file():
        what = "is a directory" if explain.is_dir() else "no such file"
        raise UsageError(f"--explain {explain}: {what}; give the registry's .explain.jsonl")
    reg_path = registry or get_settings().registry_dir / "tools.tcpdb"
    label_set = read_labels(labels or default_labels_path())
    with Registry(reg_path) as reg:
        exp = read_explanations(explain or default_explain_path(reg_path))
        ev = evaluate_registry(
            reg,
            label_set,
            None if split == "all" else split,  # type: ignore[arg-type]
            exp,
        )
    if as_json:
        emit_json(ev.to_dict())
        return
    _print_headline(ev, reg_path, label_set.path)
    _print_curve(ev.to_dict().get("coverage_curve"))
    names = ["SAFE", "LOW_RISK", "MEDIUM_RISK", "HIGH_RISK", "CRITICAL"]
    pc = Table(title="per class")
    for col in ("level", "precision", "recall", "F1", "support"):
        pc.add_column(col, justify="left" if col == "level" else "right")
    for name in names:
        m = ev.per_class[name]
        pc.add_row(
            name,
            f"{m['precision']:.3f}",
            f"{m['recall']:.3f}",
            f"{m['f1']:.3f}",
            str(int(m["support"])),
        )
    console.print(pc)
    cm = Table(title="confusion (rows: label, columns: predicted)")
    cm.add_column("label")
    for name in [*names, "UNKNOWN"]:
        cm.add_column(name.replace("_RISK", ""), justify="right")
    for name, row in zip(names, ev.confusion, strict=True):
        cm.add_row(name, *(str(v) for v in row))
    console.print(cm)
    if ev.disagreements:
        console.print(f"[bold]{len(ev.disagreements)} disagreements[/]")
    for d in ev.disagreements:
        exp_rec = d["explanation"]
        fired = ", ".join(
            f"{f['rule']}@{f['section']}:'{f['matched']}'" for f in exp_rec.get("fired", [])
        ) or exp_rec.get("reason", "(no explanation file)")
        console.print(  # tool names and matched text are data, never markup
            escape(f"  {d['tool']}: label {d['label']}, predicted {d['predicted']} <- {fired}"),
            highlight=False,
        )


@app.command("cv")
def cv_cmd(
    corpus: Annotated[
        Path | None,
        typer.Option("--corpus", help="Corpus file (default: TCPLAB_HOME/corpus/corpus.parquet)."),
    ] = None,
    generator: Annotated[
        str, typer.Option("--generator", help="ordinal (default) or knn.")
    ] = "ordinal",
    train_labels: Annotated[
        Path | None,
        typer.Option(
            "--train-labels", help="Training labels (default: the shipped tcplab-v1.csv)."
        ),
    ] = None,
    threshold: Annotated[
        float | None,
        typer.Option("--threshold", help="Fixed abstention threshold (default: chosen by CV)."),
    ] = None,
    nested: Annotated[
        bool,
        typer.Option(
            "--nested",
            help="Also nested CV: C and the threshold/guard chosen in inner folds only "
            "(the unbiased estimate; slow: 25 inner fits per outer fold for ordinal).",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Grouped CV of a learned generator on its training labels (docs/generators.md)."""
    corpus_path = corpus or get_settings().corpus_dir / "corpus.parquet"
    if not corpus_path.exists():
        raise UsageError(f"corpus {corpus_path} does not exist; run `tcplab corpus scan` first")
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise UsageError(f"--threshold must be between 0 and 1, not {threshold}")
    tools = read_corpus(corpus_path)
    gen = get_generator(generator, GeneratorContext(labels=train_labels, threshold=threshold))
    with console.status(f"cross-validating {gen.name}") as status:

        def progress(done: int, total: int) -> None:
            status.update(f"nested CV of {gen.name}: outer fold {done}/{total} done")

        result = training_cv(gen, tools, nested=nested, progress=progress)
    if as_json:
        emit_json(result)
        return
    console.print("[bold]optimistic[/] (threshold chosen on the scored folds):", highlight=False)
    _print_cv(result["optimistic"])
    if "nested" in result:
        _print_nested(result["nested"])


def _print_nested(res: Any) -> None:
    """The nested-CV figures and what each outer fold chose."""
    fig, cal = res["figures"], res["calibration"]
    console.print(
        "[bold]nested[/] (C and threshold/guard chosen in inner folds): unsafe approvals "
        f"{fig['unsafe_approval_rate']:.3f}, critical under-calls "
        f"{fig['critical_undercall_rate']:.3f}, friction {fig['friction_rate']:.3f}, coverage "
        f"{fig['coverage']:.3f}, exact (covered) {fig['exact_covered']:.3f}, within-one (covered) "
        f"{fig['within_one_covered']:.3f}; calibration ECE {cal['ece']:.3f}, Brier "
        f"{cal['brier']:.3f}; capability macro-F1 {res['capability_macro_f1']:.3f}; exact without "
        f"abstention {res['no_abstention']['exact_all']:.3f}",
        highlight=False,
    )
    for f in res["folds"]:
        params = ", ".join(f"{k}={v}" for k, v in f["params"].items()) or "-"
        console.print(
            f"  outer fold {f['fold']}: {f['n_test']} tools, {params}, threshold "
            f"{f['threshold']}, guard {f['guard']}",
            highlight=False,
        )
