"""The ``embedding`` arm: sentence-transformers all-MiniLM-L6-v2, zero-shot or trained head.

Importing this package does not import torch or sentence-transformers; they are imported
when an analyzer is opened or a head is trained (``pip install 'tcplab[ml]'``). See
``docs/embedding.md``.
"""

from tcplab.analyzers.embedding._analyzer import MODES, EmbeddingAnalyzer
from tcplab.analyzers.embedding._head import (
    HEAD_FORMAT,
    Head,
    default_head_dir,
    load_head,
    train_head,
    training_set_sha256,
)
from tcplab.analyzers.embedding._model import MODEL_ID, MODEL_PACKAGE, load_model, model_dir
from tcplab.analyzers.embedding._text import TEXT_RECIPE, build_text

__all__ = [
    "HEAD_FORMAT",
    "MODEL_ID",
    "MODEL_PACKAGE",
    "MODES",
    "TEXT_RECIPE",
    "EmbeddingAnalyzer",
    "Head",
    "build_text",
    "default_head_dir",
    "load_head",
    "load_model",
    "model_dir",
    "train_head",
    "training_set_sha256",
]
