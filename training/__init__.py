"""Training emolens' own explainer: data from the fast path's evidence, LoRA on the packaged base, export to GGUF."""
