"""``tcplab train-embedding``: train the embedding arm's logistic-regression head."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from tcplab.analyzers import default_corpus_path
from tcplab.cli._console import console, emit_json
from tcplab.errors import UsageError

__all__ = ["register"]

_DEFAULT_LABELS = Path("data/labels/tcplab-v1.csv")


def register(app: typer.Typer) -> None:
    """Add the ``train-embedding`` command to ``app``."""

    @app.command("train-embedding")
    def train_embedding(
        labels: Annotated[
            Path, typer.Option("--labels", help="Labels file (default data/labels/tcplab-v1.csv).")
        ] = _DEFAULT_LABELS,
        corpus: Annotated[
            Path | None,
            typer.Option(
                "--corpus", help="Corpus file (default TCPLAB_HOME/corpus/corpus.parquet)."
            ),
        ] = None,
        out: Annotated[
            Path | None,
            typer.Option(
                "--out", help="Head file (default TCPLAB_HOME/models/embedding-head-<hash>.npz)."
            ),
        ] = None,
        split: Annotated[str, typer.Option("--split", help="Split to train on.")] = "dev",
        as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    ) -> None:
        """Train the head on the DEV split and print what it was trained on."""
        from tcplab.analyzers.embedding import load_head, train_head

        if split not in ("dev", "test"):
            raise UsageError(f"--split must be dev or test, not {split!r}")
        corpus_path = corpus or default_corpus_path()
        if not corpus_path.exists():
            raise UsageError(f"corpus {corpus_path} does not exist; pass --corpus FILE")
        if out is not None and out.is_dir():  # refused before the model is loaded
            raise UsageError(f"--out {out} is a directory; give the head file to write (.npz)")
        path = train_head(labels, corpus_path, out, "dev" if split == "dev" else "test")
        meta = load_head(path).meta
        if as_json:
            emit_json({"head": str(path), **meta})
            return
        commands = meta["commands"]
        console.print(  # paths and tool names are data, never markup
            escape(
                f"trained embedding head {path}\n"
                f"  training_set_sha256 {meta['training_set_sha256']}\n"
                f"  labels {meta['labels_path']} (sha256 {meta['labels_sha256'][:16]}), "
                f"split {meta['split']}\n"
                f"  corpus {meta['corpus_path']}\n"
                f"  model {meta['model_id']} (package {meta['model_package_version']}), "
                f"text {meta['text_recipe']}, C={meta['C']}\n"
                f"  risk classes {', '.join(meta['risk_classes'])}\n"
                f"  {len(commands)} training commands: {', '.join(commands)}"
            ),
            highlight=False,
        )
        if meta["skipped"]:
            console.print(
                escape(
                    f"  {len(meta['skipped'])} skipped (no documentation in the corpus): "
                    f"{', '.join(meta['skipped'])}"
                ),
                highlight=False,
            )
