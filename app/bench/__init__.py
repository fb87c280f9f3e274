"""The benchmarks `emolens bench` runs: each measures side by side in one process and writes JSON.

fast_path.py: the fast path's per-stage ms on one clip (with --compare variants), and a folder's end-to-end
throughput; sound.py: what a file's sound track costs per frame; explainer.py: the slow path's latency and what
the gate saves; window.py: the real window's painted frame rate; soak.py: a live session left running, to see
whether anything grows. Figures are medians over runs, ratios are taken within one run.
"""
