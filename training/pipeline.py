"""`emolens train-explainer`: data -> LoRA -> merged GGUF -> evaluation, in one resumable run.

Everything lands in a work folder (data as JSONL, the adapter, the log, the
evaluation); the finished GGUF and its manifest go into the model folder as
`emolens-explainer.gguf`, which the app then uses in place of the packaged base.
An adapter already trained on the same data with the same settings is reused,
so a run stopped during export or evaluation does not train again.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from engines.model_assets import default_model_dir
from engines.slow.llm_models import DEFAULT_LLM, TRAINED_LLM, resolve_llm, trained_path
from training.explainer_data import PROMPT_STYLE, build_examples, data_hash, write_jsonl
from training.lora import TrainSettings, import_training, train_lora


def train_explainer(
    work: Path,
    settings: TrainSettings,
    sampled_tracks: int = 400,
    quant: str = "q8_0",
    evaluate_windows: int = 80,
    model_dir: Path | None = None,
    progress: Callable[[str], None] = print,
) -> dict:
    torch, _, _ = import_training()
    started = time.perf_counter()
    model_dir = model_dir or default_model_dir()
    base = resolve_llm(DEFAULT_LLM, model_dir)
    work.mkdir(parents=True, exist_ok=True)

    progress(f"[1/4] data: {sampled_tracks} sampled face tracks and the bundled clips")
    examples = build_examples(sampled_tracks=sampled_tracks, seed=settings.seed, progress=progress)
    digest = data_hash(examples)
    splits = {s: [e for e in examples if e.split == s] for s in ("train", "validation", "test")}
    for name, part in splits.items():
        write_jsonl(part, work / f"{name}.jsonl")
    progress("  " + ", ".join(f"{len(v)} {k}" for k, v in splits.items()) + f" examples; data sha256 {digest[:12]}")

    progress(f"[2/4] LoRA on {base.name} (rank {settings.rank}, {settings.steps} steps of {settings.batch})")
    checkpoint = work / "adapter.pt"
    key = {"data_sha256": digest, "settings": settings.as_dict(), "base_sha256": base.sha256}
    saved = torch.load(checkpoint, weights_only=False) if checkpoint.exists() else None
    if saved is not None and saved.get("key") == key:
        adapter, log = saved["adapter"], saved["log"]
        progress(f"  reusing the adapter in {checkpoint} (same data, settings and base)")
    else:
        adapter, log = train_lora(
            base.path,
            [(e.prompt, e.target) for e in splits["train"]],
            [(e.prompt, e.target) for e in splits["validation"]],
            settings,
            progress=lambda line: progress(f"  {line}"),
        )
        torch.save({"key": key, "adapter": adapter, "log": log}, checkpoint)
        progress(f"  trained in {log['seconds'] / 60:.1f} min; adapter saved to {checkpoint}")

    from export.models.explainer_gguf import write_merged_gguf
    from export.models.shipped_explainer import (
        explainer_manifest,
        read_adapter,
        write_adapter,
        write_adapter_manifest,
    )

    # The adapter as it would ship (float16), and the GGUF merged from exactly that, so that what is evaluated
    # here is what an install that merges the shipped adapter gets.
    adapter_path = work / f"{TRAINED_LLM}-lora.npz"
    base_info = {"name": base.name, "sha256": base.sha256, "source": base.source}
    data_info = {"sha256": digest, **{k: len(v) for k, v in splits.items()}, "sampled_tracks": sampled_tracks}
    about = {
        "prompt": PROMPT_STYLE,
        "base": base_info,
        "data": data_info,
        "training": {"settings": settings.as_dict(), "loss": log["loss"][-10:], "validation": log["validation_loss"]},
        "quantization": quant,
        "metrics": "not evaluated yet",
    }
    shipped = write_adapter(adapter, adapter_path, about)
    portable, _ = read_adapter(adapter_path)

    out = trained_path(model_dir)
    source = f"emolens train-explainer: LoRA on {base.name} ({base.sha256[:12]}), merged"

    trained_here = {"shipped": False, "sha256": shipped["sha256"], "file": str(adapter_path)}  # never replaced
    progress(f"[3/4] export: merge the adapter into {base.name}'s weights, write GGUF, quantise to {quant}")
    export = write_merged_gguf(base.path, portable, out, quant, progress=lambda line: progress(f"  {line}"))
    manifest = explainer_manifest(out, export["sha256"], base, about, trained_here, source)
    out.with_name(out.name + ".json").write_text(json.dumps(manifest, indent=2))

    from training.evaluation import evaluate_explainers

    # every window of the clips held out (never seen in training), then held-out sampled windows
    unseen = [e.evidence for e in splits["test"] if not e.source.startswith("sampled-")]
    test = unseen + [e.evidence for e in splits["test"] if e.source.startswith("sampled-")][:evaluate_windows]
    progress(
        f"[4/4] evaluation on {len(test)} held-out windows ({len(unseen)} from clips the training never saw): "
        "base vs trained vs template"
    )
    metrics = evaluate_explainers(
        test, base, out, progress=lambda line: progress(f"  {line}"), unseen_clip_windows=len(unseen)
    )
    (work / "evaluation.json").write_text(json.dumps(metrics, indent=2))

    about["metrics"] = metrics["summary"]
    about["metrics_unseen_clips"] = metrics["unseen_clips"]
    about["evaluated_gguf_sha256"] = export["sha256"]  # an install merging this adapter can say it got the same
    write_adapter_manifest(adapter_path, adapter["scaling"], adapter["rank"], about)  # now with the figures
    manifest = explainer_manifest(out, export["sha256"], base, about, trained_here, source)
    manifest["seconds"] = round(time.perf_counter() - started, 1)
    out.with_name(out.name + ".json").write_text(json.dumps(manifest, indent=2))
    progress(f"wrote {out} ({out.stat().st_size / 1e6:.0f} MB) and its manifest; the app now uses it")
    progress(f"to ship this adapter with emolens: cp {adapter_path}* export/models/assets/")
    return manifest
