"""LoRA fine-tuning of the packaged explainer on the CPU: float weights from its GGUF, loss on the answer only.

transformers reads the GGUF and dequantises it; peft adds rank-r adapters to the
attention value/output and MLP projections (not q/k: llama.cpp stores those
permuted, and leaving them alone keeps the merge into GGUF a plain sum). Only the
answer's tokens carry loss, and only their positions go through the output layer
(`logits_to_keep`): the 49k-word vocabulary would otherwise cost more than the
adapter. Batches are left-padded with matching position ids, so every answer
ends at the last position.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from engines.errors import BackendError

TARGET_MODULES = ("v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
INSTALL_HINT = "training needs torch, transformers, peft and gguf: pip install -e '.[train]' (./install.sh --train)"


@dataclass(frozen=True)
class TrainSettings:
    steps: int = 200
    batch: int = 8
    lr: float = 2e-3
    warmup: int = 12
    rank: int = 8
    alpha: int = 16
    seed: int = 0
    threads: int = 0  # 0: every core

    def as_dict(self) -> dict:
        return asdict(self)


def import_training():
    try:
        import peft
        import torch
        import transformers
    except ImportError as exc:
        raise BackendError(f"{INSTALL_HINT} ({exc.name} is missing)") from exc
    return torch, transformers, peft


def load_base(gguf: Path):
    """The base model in float32 and its tokenizer, both read from the GGUF file itself."""
    torch, transformers, _ = import_training()
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = transformers.AutoModelForCausalLM.from_pretrained(
        str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32
    )
    return model, tokenizer


def _encode(tokenizer, prompt: str, target: str) -> tuple[list[int], int]:
    prompt_ids = tokenizer(prompt, add_special_tokens=False).input_ids
    answer_ids = tokenizer(target, add_special_tokens=False).input_ids + [tokenizer.eos_token_id]
    return prompt_ids + answer_ids, len(answer_ids)


def _batch(torch, encoded: list[tuple[list[int], int]], pad_id: int):
    longest = max(len(ids) for ids, _ in encoded)
    keep = max(n for _, n in encoded) + 1  # from the prompt's last position on
    input_ids = torch.full((len(encoded), longest), pad_id, dtype=torch.long)
    mask = torch.zeros((len(encoded), longest), dtype=torch.long)
    labels = torch.full((len(encoded), keep - 1), -100, dtype=torch.long)
    for row, (ids, n) in enumerate(encoded):
        input_ids[row, longest - len(ids) :] = torch.tensor(ids)
        mask[row, longest - len(ids) :] = 1
        labels[row, keep - 1 - n :] = torch.tensor(ids[-n:])
    positions = (mask.cumsum(1) - 1).clamp(min=0)
    return input_ids, mask, positions, labels, keep


def _loss(torch, model, batch):
    input_ids, mask, positions, labels, keep = batch
    logits = model(input_ids=input_ids, attention_mask=mask, position_ids=positions, logits_to_keep=keep).logits
    return torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), labels.reshape(-1))


def train_lora(
    base_gguf: Path,
    train: list[tuple[str, str]],
    validation: list[tuple[str, str]],
    settings: TrainSettings,
    progress: Callable[[str], None] = print,
) -> tuple[dict, dict]:
    """Returns the adapter's weights (name -> tensor, with its scaling) and the training log."""
    torch, _, peft = import_training()
    random.seed(settings.seed)
    torch.manual_seed(settings.seed)
    if settings.threads:
        torch.set_num_threads(settings.threads)
    start = time.perf_counter()
    model, tokenizer = load_base(base_gguf)
    progress(f"base model loaded from {base_gguf.name} in {time.perf_counter() - start:.0f} s")
    config = peft.LoraConfig(
        r=settings.rank, lora_alpha=settings.alpha, target_modules=list(TARGET_MODULES), lora_dropout=0.0
    )
    model = peft.get_peft_model(model, config)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    encoded = [_encode(tokenizer, p, t) for p, t in train]
    held = [_encode(tokenizer, p, t) for p, t in validation[:48]]
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=settings.lr, weight_decay=0.0)

    def rate(step: int) -> float:  # linear warm-up, cosine decay
        if step < settings.warmup:
            return (step + 1) / settings.warmup
        return 0.5 * (1 + math.cos(math.pi * (step - settings.warmup) / max(1, settings.steps - settings.warmup)))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, rate)
    order: list[int] = []
    log: dict = {"loss": [], "validation_loss": []}

    def validation_loss() -> float:
        model.eval()
        with torch.no_grad():
            losses = [float(_loss(torch, model, _batch(torch, held[i : i + 8], pad))) for i in range(0, len(held), 8)]
        model.train()
        return round(sum(losses) / len(losses), 4)

    from tqdm import tqdm

    log["validation_loss"].append((0, validation_loss()))
    model.train()
    bar = tqdm(range(settings.steps), desc="training the explainer", unit="step")
    for step in bar:
        if len(order) < settings.batch:
            order += random.sample(range(len(encoded)), len(encoded))
        chosen, order = order[: settings.batch], order[settings.batch :]
        loss = _loss(torch, model, _batch(torch, [encoded[i] for i in chosen], pad))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        value = float(loss.detach())
        log["loss"].append(round(value, 4))
        bar.set_postfix(loss=f"{value:.3f}")
        if (step + 1) % 60 == 0 or step + 1 == settings.steps:
            log["validation_loss"].append((step + 1, validation_loss()))
            progress(f"step {step + 1}: validation loss {log['validation_loss'][-1][1]}")
    log["seconds"] = round(time.perf_counter() - start, 1)
    scaling = settings.alpha / settings.rank
    adapter = {name: param.detach().clone() for name, param in model.named_parameters() if "lora_" in name}
    return {"weights": adapter, "scaling": scaling, "rank": settings.rank}, log
