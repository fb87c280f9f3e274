"""`emolens train-explainer`: emolens' own explainer, trained here."""

from __future__ import annotations

import argparse
from pathlib import Path


def run(args: argparse.Namespace) -> int:
    from training.lora import TrainSettings
    from training.pipeline import train_explainer

    settings = TrainSettings(steps=args.steps, batch=args.batch, lr=args.lr, rank=args.rank, seed=args.seed)
    manifest = train_explainer(
        args.work,
        settings,
        sampled_tracks=args.tracks,
        quant=args.quant,
        evaluate_windows=args.eval_windows,
        model_dir=args.model_dir,
        progress=lambda line: print(line, flush=True),
    )
    m = manifest["metrics"]
    for name in ("base", "trained", "template"):
        r = m[name]
        print(
            f"  {name:<9} grounded {r['grounded_rate']:.0%}, valid JSON {r['json_valid_rate']:.0%}, "
            f"label agrees {r['label_agreement']:.0%}, "
            + ("" if r.get("action_rate") is None else f"cites an action where one moved {r['action_rate']:.0%}, ")
            + f"{r['tokens_p50']} tokens, {r['latency_ms_p50']:.0f} ms p50"
        )
    return 0


def register(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "train-explainer",
        help="train emolens' own explainer (LoRA on the packaged model, on CPU) and export it as GGUF",
        description="Build grounded training data from the fast path's evidence (the bundled clips and sampled "
        "face tracks), fine-tune the packaged SmolLM2 with LoRA on the CPU, merge, write and quantise a GGUF into "
        "the model folder (the app then uses it), and evaluate base vs trained vs template on held-out windows. "
        "About 45 minutes on 2 cores; a stopped run reuses its trained adapter.",
    )
    p.add_argument(
        "--work",
        type=Path,
        default=Path("runs/train-explainer"),
        metavar="DIR",
        help="data, adapter, log and evaluation (default: runs/train-explainer)",
    )
    p.add_argument("--steps", type=int, default=200, metavar="N", help="optimiser steps (default: 200)")
    p.add_argument("--batch", type=int, default=8, metavar="N", help="examples per step (default: 8)")
    p.add_argument("--lr", type=float, default=2e-3, metavar="RATE", help="peak learning rate (default: 2e-3)")
    p.add_argument("--rank", type=int, default=8, metavar="N", help="LoRA rank (default: 8)")
    p.add_argument("--seed", type=int, default=0, metavar="N", help="seed for data and training (default: 0)")
    p.add_argument(
        "--tracks", type=int, default=400, metavar="N", help="sampled face tracks in the data (default: 400)"
    )
    p.add_argument(
        "--quant",
        choices=["q8_0", "q4_1", "f16"],
        default="q8_0",
        metavar="TYPE",
        help="GGUF type: q8_0, q4_1 or f16 (default: q8_0)",
    )
    p.add_argument(
        "--eval-windows",
        type=int,
        default=80,
        metavar="N",
        help="held-out windows the three explainers are compared on (default: 80)",
    )
    p.add_argument(
        "--model-dir",
        type=Path,
        metavar="DIR",
        help="where the GGUF goes (default: $EMOLENS_MODEL_DIR or ~/.cache/emolens/models)",
    )
    p.set_defaults(func=run)
    return p
