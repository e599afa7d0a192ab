"""Prediction and training without the last layer's unread work: a BERT sequence classifier's head reads one position.

``BertForSequenceClassification`` classifies from its pooler, which reads the first token's state after the last
layer, so that layer's queries, attention output and feed-forward block for every other token are computed and
thrown away: in MiniLM-L6 on news sentences (34 tokens with their context) 13.5 % of the forward pass's matmul work.
``first_token_view`` gives a module that shares every weight with the model and runs its last layer for the first
token alone (keys and values still read every token), through the model's own submodules and attention function, so
it computes what the model computes (to float rounding) and follows the model's precision (autocast, torchao's
int8) and its train or eval mode. Prediction and training both run through it (training's loss and gradients are
the model's; its dropout draws fewer random numbers, so a run trained before it is not reproduced bit for bit).
Other architectures (MPNet's classification head, decoders) are run as they are.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS
from transformers.models.bert.modeling_bert import eager_attention_forward


class FirstTokenLayer(nn.Module):
    """A BERT layer computed for position 0 only: queries from it, keys and values from every position."""

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, hidden_states: torch.Tensor, attention_mask: Any = None, *args: Any,
                **kwargs: Any) -> torch.Tensor:
        att = self.layer.attention.self
        first = hidden_states[:, :1]
        b, size = hidden_states.shape[0], att.attention_head_size

        def heads(x: torch.Tensor) -> torch.Tensor:
            return x.view(b, x.shape[1], -1, size).transpose(1, 2)

        if isinstance(attention_mask, torch.Tensor) and attention_mask.dim() == 4 and attention_mask.shape[2] > 1:
            attention_mask = attention_mask[:, :, :1]  # the mask's row for the one query left
        attend = ALL_ATTENTION_FUNCTIONS.get_interface(att.config._attn_implementation, eager_attention_forward)
        out, _ = attend(att, heads(att.query(first)), heads(att.key(hidden_states)), heads(att.value(hidden_states)),
                        attention_mask, dropout=att.dropout.p if att.training else 0.0, scaling=att.scaling)
        out = self.layer.attention.output(out.reshape(b, 1, -1).contiguous(), first)
        return self.layer.feed_forward_chunk(out)


def _with_children(module: nn.Module, **children: nn.Module) -> nn.Module:
    """A shallow copy of ``module`` (the same parameters and submodules) with some children replaced."""
    view = copy.copy(module)
    view._modules = {**module._modules, **children}
    return view


def first_token_view(model: nn.Module) -> nn.Module | None:
    """A view of ``model`` that shares its weights and computes its last layer for the first token alone; None where
    the model is not an encoder-only BERT sequence classifier whose head reads the pooler, or where it is set to
    return hidden states or attentions (the view has no last layer to give for every token), or runs an attention
    function other than eager or sdpa (flex attention's block masks are built for every query).

    For running the model only: save, optimise, wrap (DDP) and replace children on ``model`` itself, whose modules
    the view shares (a child replaced on ``model`` after the view was made does not reach it)."""
    from transformers import BertForSequenceClassification

    bert = getattr(model, "bert", None)
    if type(model) is not BertForSequenceClassification or bert is None or bert.pooler is None:
        return None
    config = bert.config
    if config.is_decoder or config.add_cross_attention or config.chunk_size_feed_forward:
        return None
    if config.output_hidden_states or config.output_attentions or config._attn_implementation not in ("eager", "sdpa"):
        return None
    layers = list(bert.encoder.layer)
    encoder = _with_children(bert.encoder, layer=nn.ModuleList([*layers[:-1], FirstTokenLayer(layers[-1])]))
    view = _with_children(model, bert=_with_children(bert, encoder=encoder)).train(model.training)
    run = view.forward

    def forward(*args: Any, **kwargs: Any) -> Any:
        # refused before transformers installs its output-recording hooks, which would land on the shared layers
        if kwargs.get("output_attentions") or kwargs.get("output_hidden_states"):
            raise ValueError("the first-token view gives no per-token states or attentions; run the model itself")
        return run(*args, **kwargs)

    view.forward = forward
    return view
