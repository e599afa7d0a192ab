"""The first-token view (systems.first_token): the last layer computed only where BERT's classifier reads it must
give the model's own logits, leave the model and its saved weights as they were, and be what the predictor runs."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")


def _tiny_bert(attn: str, layers: int = 3):
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    config = BertConfig(vocab_size=60, hidden_size=32, num_hidden_layers=layers, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=64, num_labels=5)
    config._attn_implementation = attn
    return BertForSequenceClassification(config).eval()


def _padded_batch(rows: int = 6, width: int = 12) -> dict:
    torch.manual_seed(1)
    ids = torch.randint(5, 60, (rows, width))
    lengths = torch.tensor([width, 3, 7, width - 1, 1, 5])[:rows]
    mask = (torch.arange(width)[None, :] < lengths[:, None]).long()
    ids[mask == 0] = 0
    types = torch.zeros_like(ids)
    types[:, width // 2:] = 1
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types * mask}


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_the_view_gives_the_models_logits_on_a_padded_batch(attn):
    from kpstance.systems.first_token import FirstTokenLayer, first_token_view

    model = _tiny_bert(attn)
    keys = list(model.state_dict())
    view = first_token_view(model)
    assert isinstance(view.bert.encoder.layer[-1], FirstTokenLayer)
    batch = _padded_batch()
    with torch.inference_mode():
        full, fast = model(**batch).logits, view(**batch).logits
        alone = torch.cat([model(**{k: v[i:i + 1, :int(batch["attention_mask"][i].sum())] for k, v in batch.items()})
                           .logits for i in range(len(full))])
    torch.testing.assert_close(fast, full, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(fast, alone, atol=1e-5, rtol=1e-5)  # padding is still masked for the keys
    # the model itself is untouched: its own layers, its saved weights' names, and weights shared with the view
    assert type(model.bert.encoder.layer[-1]).__name__ == "BertLayer" and list(model.state_dict()) == keys
    assert view.bert.encoder.layer[-1].layer.output.dense.weight is model.bert.encoder.layer[-1].output.dense.weight


def test_the_view_follows_the_weights_and_autocast():
    from kpstance.systems.first_token import first_token_view

    model = _tiny_bert("sdpa")
    view = first_token_view(model)
    batch = _padded_batch()
    with torch.no_grad():
        model.bert.encoder.layer[-1].output.dense.weight.mul_(3.0)  # a change to the model reaches the view
        model.classifier.bias.add_(0.5)
    with torch.inference_mode():
        torch.testing.assert_close(view(**batch).logits, model(**batch).logits, atol=1e-5, rtol=1e-5)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            fast, full = view(**batch).logits.float(), model(**batch).logits.float()
    torch.testing.assert_close(fast, full, atol=0.05, rtol=0.05)


def test_per_token_outputs_are_refused_and_leave_the_model_as_it_was():
    """The view has no last layer for every token to report; asking for one is an error, raised before transformers
    installs its recording hooks on the layers the view shares with the model."""
    from kpstance.systems.first_token import first_token_view

    model = _tiny_bert("sdpa")
    view = first_token_view(model)
    batch = _padded_batch()
    for flag in ("output_hidden_states", "output_attentions"):
        with pytest.raises(ValueError, match="per-token"):
            view(**batch, **{flag: True})
    out = model(**batch, output_hidden_states=True, output_attentions=True)
    fresh = _tiny_bert("sdpa")(**batch, output_hidden_states=True, output_attentions=True)
    assert len(out.hidden_states) == len(fresh.hidden_states) == 4  # the embeddings and 3 layers, as before
    assert len(out.attentions) == len(fresh.attentions)


def test_the_view_keeps_the_models_dropout_in_training():
    from kpstance.systems.first_token import first_token_view

    model = _tiny_bert("sdpa").train()  # dropout 0.1 on hidden states and attention
    view = first_token_view(model)
    assert view.training
    batch = _padded_batch()
    with torch.no_grad():
        a, b = view(**batch).logits, view(**batch).logits
        assert not torch.allclose(a, b)  # dropout draws on the path the head reads
        model.eval()  # the mode is the model's: the view follows it
        torch.testing.assert_close(view(**batch).logits, model(**batch).logits, atol=1e-5, rtol=1e-5)


def test_other_architectures_run_as_they_are():
    from transformers import BertConfig, BertModel, DistilBertConfig, DistilBertForSequenceClassification

    from kpstance.systems.first_token import first_token_view

    distil = DistilBertForSequenceClassification(DistilBertConfig(vocab_size=60, dim=32, n_layers=2, n_heads=4,
                                                                  hidden_dim=64, max_position_embeddings=64))
    assert first_token_view(distil) is None
    assert first_token_view(_tiny_bert("flex_attention")) is None  # its block masks are built for every query
    assert first_token_view(_tiny_bert("sdpa")) is not None
    assert first_token_view(BertModel(BertConfig(vocab_size=60, hidden_size=32, num_hidden_layers=1,
                                                 num_attention_heads=4, intermediate_size=64))) is None


def test_the_predictor_runs_the_view_and_gives_the_stock_models_probabilities(smoke_predictor):
    import numpy as np

    from kpstance.systems.first_token import FirstTokenLayer

    p = smoke_predictor
    assert isinstance(p._plain.bert.encoder.layer[-1], FirstTokenLayer) and p._forward is p._plain
    texts = ["Moscow urged restraint.", "Washington said the drills would go ahead as planned next month."]
    fast = p.predict_proba(texts, batch_size=2, workers=1)
    p._forward = p.model
    try:
        stock = p.predict_proba(texts, batch_size=2, workers=1)
    finally:
        p._forward = p._plain
    for a, b in zip(fast, stock):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_training_through_the_view_gives_the_models_loss_and_gradients():
    """Without dropout (whose random draws differ) the view's loss and gradients are the model's own."""
    from transformers import BertConfig, BertForSequenceClassification

    from kpstance.systems.first_token import first_token_view

    torch.manual_seed(0)
    model = BertForSequenceClassification(BertConfig(
        vocab_size=60, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
        max_position_embeddings=64, num_labels=3, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)).train()
    batch, labels = _padded_batch(), torch.tensor([0, 1, 2, 0, 1, 2])
    grads = []
    for forward in (model, first_token_view(model)):
        model.zero_grad()
        loss = torch.nn.functional.cross_entropy(forward(**batch).logits, labels)
        loss.backward()
        grads.append((loss.detach(), [p.grad.clone() for p in model.parameters() if p.grad is not None]))
    (l0, g0), (l1, g1) = grads
    torch.testing.assert_close(l1, l0, atol=1e-6, rtol=1e-5)
    assert len(g0) == len(g1)
    for a, b in zip(g0, g1):
        torch.testing.assert_close(b, a, atol=1e-5, rtol=1e-4)
