"""A tiny random-weight Llama chat model built at test time, served by ``transformers serve``.

Nothing is downloaded: a byte-level BPE tokenizer is trained on a few sentences and a
2-layer, 32-wide ``LlamaForCausalLM`` gets random weights (seeded). Its answers are noise —
the end-to-end tests check plumbing (statuses, usage, timing, cache), never accuracy.

Run as a script (``python llm_tiny.py OUTDIR``) so torch and transformers load in a child
process, not in pytest's (which turns every warning into an error).
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

__all__ = ["TinyServer", "build_tiny_model", "missing_components", "running_tiny_server"]

SERVING_MODULES = ("torch", "transformers", "tokenizers", "fastapi", "uvicorn")
CHAT_TEMPLATE = (
    "{% for m in messages %}<s>{{ m['role'] }}: {{ m['content'] }}</s>\n{% endfor %}"
    "{% if add_generation_prompt %}assistant: {% endif %}"
)
SENTENCES = [
    "the risk level of rm is CRITICAL because it deletes files",
    '{"risk_level": "SAFE", "capabilities": [], "explanation": "only reads"}',
    "system user assistant: list directory contents, copy files, change permissions",
    "NAME SYNOPSIS DESCRIPTION OPTIONS",
]


def transformers_cli() -> Path:
    """The ``transformers`` console script beside this Python."""
    return Path(sys.executable).with_name("transformers")


def missing_components() -> list[str]:
    """What the tiny-server tests need and this environment lacks."""
    missing = [m for m in SERVING_MODULES if importlib.util.find_spec(m) is None]
    if not transformers_cli().exists():
        missing.append(f"console script {transformers_cli()}")
    return missing


def build_tiny_model(out: Path) -> Path:
    """Build tokenizer + random model into ``out`` (in this process)."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<unk>", "<s>", "</s>", "<pad>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(SENTENCES * 5, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="<unk>",
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(out)
    config = LlamaConfig(
        vocab_size=len(fast),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=8192,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
    )
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(out)
    return out


def free_port() -> int:
    """An unused TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        HF_HUB_DISABLE_TELEMETRY="1",
        TOKENIZERS_PARALLELISM="false",
        OMP_NUM_THREADS="1",
        PYTHONWARNINGS="ignore",
    )
    return env


class TinyServer:
    """Build the model in a child process, then run ``transformers serve`` on it.

    Args:
        workdir: where the model and the server log go.
        ready_timeout_s: how long to wait for ``/health`` before giving up.
    """

    def __init__(self, workdir: Path, ready_timeout_s: float = 180.0) -> None:
        self.workdir = workdir
        self.model_dir = workdir / "tiny-llama"
        self.port = free_port()
        self.log_path = workdir / "serve.log"
        self.ready_timeout_s = ready_timeout_s
        self.proc: subprocess.Popen[bytes] | None = None
        self.build_s = 0.0
        self.start_s = 0.0

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def model(self) -> str:
        """The model name to request (the served directory)."""
        return str(self.model_dir)

    def log(self) -> str:
        """The server's output so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self) -> TinyServer:
        """Build, launch and wait until ``/health`` answers (polling, no fixed sleep).

        Raises:
            RuntimeError: the build failed, or the server exited or never became ready.
        """
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, __file__, str(self.model_dir)],
            check=True,
            env=_child_env(),
            capture_output=True,
            timeout=300,
        )
        self.build_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [
                    str(transformers_cli()),
                    "serve",
                    self.model,
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--device",
                    "cpu",
                    "--log-level",
                    "warning",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=_child_env(),
            )
        deadline = time.monotonic() + self.ready_timeout_s
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2):
                    self.start_s = time.perf_counter() - t0
                    return self
            except (urllib.error.URLError, OSError):
                pass
            try:
                code = self.proc.wait(timeout=0.25)  # doubles as the poll interval
            except subprocess.TimeoutExpired:
                continue
            raise RuntimeError(f"transformers serve exited with {code}:\n{self.log()[-3000:]}")
        self.stop()
        raise RuntimeError(f"transformers serve not ready in time:\n{self.log()[-3000:]}")

    def stop(self) -> None:
        """Terminate the server (kill after 10 s)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None


if __name__ == "__main__":
    build_tiny_model(Path(sys.argv[1]))


def running_tiny_server(directory: Path) -> Iterator[TinyServer]:
    """Module-fixture body: a started server, stopped afterwards; a failed start fails the test."""
    import pytest

    server = TinyServer(directory)
    try:
        server.start()
    except Exception as exc:
        server.stop()
        pytest.fail(f"could not start transformers serve: {exc}", pytrace=False)
    yield server
    server.stop()
