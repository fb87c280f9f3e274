"""The explainer's training data: evidence windows paired with grounded targets, split by source.

Evidence comes from two places, both through the real `EvidenceBuilder`, so the
facts read exactly as they will in the app: the fast path run over the bundled
clips (with the talking clip's own voice and the fusion's conflict decision), and
sampled face tracks whose probabilities, landmark geometry and voice are drawn to
cover every cue, label, trend, change, conflict and uncertainty case. Each
source (a clip, or one sampled track) goes wholly to train, validation or test.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engines.contracts import EMOTIONS, Evidence, FacialActions, LandmarkCues, VoiceCues
from engines.fast.action_prototypes import CLEAR, PROTOTYPES, action_opinion
from engines.slow.evidence import EvidenceBuilder, FaceSample, with_conflict
from engines.slow.prompt import build_prompt
from training.phrasing import target_answer

PROMPT_STYLE = "facts-only"
DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
# Which split each bundled clip feeds: the held-out clip is never seen in training.
# expressions.mp4, the one clip whose faces move their brows, lips and lids, is held out too: the explainer
# learns to cite facial actions from sampled tracks alone and is measured on real ones.
CLIP_SPLITS = {
    "group_pan.mp4": "train",
    "talking_neutral.mp4": "validation",
    "portrait_zoom.mp4": "test",
    "expressions.mp4": "test",
}


@dataclass(frozen=True)
class Example:
    source: str  # the clip, or "sampled-N"
    split: str  # train | validation | test
    evidence: Evidence
    prompt: str
    target: str  # the JSON answer exactly as the grammar writes it

    def record(self) -> dict:
        return {"source": self.source, "split": self.split, "prompt": self.prompt, "target": self.target}


def _split_of(source: str, validation: float = 0.1, test: float = 0.15) -> str:
    h = int(hashlib.sha256(source.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "test" if h < test else "validation" if h < test + validation else "train"


def clip_evidence(clip: Path, progress: Callable[[str], None] = print) -> list[Evidence]:
    """The windows the app would explain on this clip, as the gate sees them: the pipeline with the clip's own
    sound (where it has one) and the face/voice fusion."""
    from capture import open_source
    from engines.pipeline import AudioOptions, Pipeline, PipelineOptions

    out: list[Evidence] = []
    pipeline = Pipeline(PipelineOptions(audio=AudioOptions()), str(clip), on_window=out.append)
    try:
        with open_source(str(clip)) as source:
            for frame in source.frames():
                pipeline.step(frame)
        pipeline.finish()
    finally:
        pipeline.close()
    progress(f"  {clip.name}: {len(out)} windows")
    return out


def _probabilities(rng: np.random.Generator, top: int, strength: float, second: int) -> np.ndarray:
    p = rng.dirichlet(np.full(len(EMOTIONS), 0.6)) * (1 - strength)
    p[top] += strength * 0.8
    p[second] += strength * 0.2
    return p / p.sum()


# The FacialActions fields each unit of action_prototypes moves (lip-corner depression: the pull, negative).
_ACTION_FIELDS = {
    "inner_brow_raise": ("inner_brow_raise",),
    "outer_brow_raise": ("outer_brow_raise",),
    "brow_lowering": ("brow_lowering",),
    "eye_opening": ("eye_opening_right", "eye_opening_left"),
    "lid_tightening": ("lid_tightening",),
    "cheek_raise": ("cheek_raise",),
    "lip_corner_pull": ("lip_corner_pull",),
    "lip_corner_depression": ("lip_corner_pull",),
    "lip_stretch": ("lip_stretch",),
    "jaw_drop": ("jaw_drop",),
    "lip_press": ("lip_press",),
}
_STILL_FIELDS = tuple(f.name for f in FacialActions.__dataclass_fields__.values() if f.type == "float")


def _display(rng: np.random.Generator, label: str) -> dict[str, float]:
    """What a window's face does, as sizes in units of each action's "clearly moved" size: the label's own
    prototype (most often), another emotion's (the actions then contradict the classifier), one unit alone, or
    nothing (still)."""
    r = rng.random()
    if r < 0.35 and label in PROTOTYPES:
        units = PROTOTYPES[label]
    elif r < 0.55:
        units = PROTOTYPES[str(rng.choice([e for e in PROTOTYPES if e != label]))]
    elif r < 0.8:
        units = (str(rng.choice(list(_ACTION_FIELDS))),)
    else:
        return {}
    return {u: float(rng.uniform(1.1, 2.5)) for u in units}


def _actions(rng: np.random.Generator, display: dict[str, float], rate: float | None) -> FacialActions:
    """One frame of a face doing `display`, with the mesh's noise on every action (about 0.5% of the eye
    spacing, 3% of the eyes' opening)."""
    values = {name: float(rng.normal(0, 0.5)) for name in _STILL_FIELDS}
    values["eye_opening_right"] = float(rng.normal(0, 3))
    values["eye_opening_left"] = float(rng.normal(0, 3))
    for unit, size in display.items():
        for name in _ACTION_FIELDS[unit]:
            sign = -1.0 if unit == "lip_corner_depression" else 1.0
            values[name] = sign * CLEAR[unit] * size * float(rng.normal(1, 0.08))
    return FacialActions(**values, blink=False, blink_rate=rate, gaze_x=None, gaze_y=None)


def sampled_track(seed: int) -> list[Evidence]:
    """A made-up face over 3-7 windows at 10 frames/s: labels that hold or change, probabilities that rise or
    fall, a mouth that widens or drops, a head that tilts or turns, facial actions that show the label, another
    emotion or nothing, and sometimes a voice that conflicts."""
    rng = np.random.default_rng(seed)
    builder = EvidenceBuilder()
    windows: list[Evidence] = []
    base_width, base_drop = rng.uniform(0.75, 1.05), rng.uniform(0.9, 1.3)
    label = int(rng.integers(len(EMOTIONS)))
    has_voice = rng.random() < 0.4
    has_mesh = rng.random() < 0.7
    blink_rate = float(rng.uniform(4, 30)) if has_mesh and rng.random() < 0.3 else None
    t = 0.0
    for w in range(int(rng.integers(3, 8))):
        if w and rng.random() < 0.3:
            label = int(rng.integers(len(EMOTIONS)))
        second = int(rng.choice([i for i in range(len(EMOTIONS)) if i != label]))
        unsure = rng.random() < 0.25
        start_s, end_s = (rng.uniform(0.2, 0.5), rng.uniform(0.2, 0.5)) if unsure else rng.uniform(0.45, 0.98, 2)
        if rng.random() < 0.5:  # a steady window
            end_s = start_s
        width = base_width * (1 + rng.choice([0.0, 0.0, rng.uniform(-0.25, 0.3)])) if w else base_width
        drop = base_drop * (1 + rng.choice([0.0, 0.0, rng.uniform(-0.2, 0.2)])) if w else base_drop
        roll = rng.choice([0.0, rng.uniform(-25, 25)])
        yaw = rng.choice([0.0, rng.uniform(-0.5, 0.5)])
        voice = None
        if has_voice:
            speech = rng.random() < 0.8
            voice = VoiceCues(
                speech=bool(speech),
                loudness_db=float(rng.uniform(-45, -8)),
                pitch_hz=float(rng.uniform(85, 260)) if speech and rng.random() < 0.8 else None,
                pitch_var=float(rng.uniform(3, 40)) if speech and rng.random() < 0.6 else None,
                rate=float(rng.uniform(2, 6)) if speech and rng.random() < 0.4 else None,
            )
        display = _display(rng, EMOTIONS[label]) if has_mesh else {}
        frames = 10
        for k in range(frames):
            strength = start_s + (end_s - start_s) * k / (frames - 1)
            probs = _probabilities(rng, label, float(strength), second)
            ranked = np.sort(probs)[::-1]
            margin = float(ranked[0] - ranked[1])
            entropy = float(-(probs * np.log(probs + 1e-12)).sum() / np.log(len(probs)))
            cues = LandmarkCues(
                mouth_width=float(width * rng.normal(1, 0.01)),
                mouth_drop=float(drop * rng.normal(1, 0.01)),
                roll_deg=float(roll + rng.normal(0, 1)),
                yaw=float(yaw + rng.normal(0, 0.02)),
            )
            actions = opinion = None
            if has_mesh and t >= 1.5:  # the person's baseline is learned over the first 1.5 s
                actions = _actions(rng, display, blink_rate)
                opinion = action_opinion(actions, EMOTIONS[int(np.argmax(probs))])
            sample = FaceSample(
                t,
                1,
                probs,
                bool(unsure or margin < 0.15),
                margin,
                entropy,
                cues,
                actions,
                None if opinion is None else opinion.label,
                opinion is not None and opinion.disagrees,
            )
            windows += builder.add(t, [sample], voice)
            t = round(t + 0.1, 3)
    windows += builder.flush(voice)
    out = []
    for ev in windows:
        if ev.voice is not None and rng.random() < 0.35:
            v = ev.voice
            aroused = rng.random() < 0.5
            described = (
                f"the voice sounds {'aroused' if aroused else 'flat'} (loudness {v.loudness_db:.0f} dBFS"
                + (f", pitch {v.pitch_hz:.0f} Hz" if v.pitch_hz is not None else "")
                + f") while the face reads {ev.label}"
            )
            ev = with_conflict(ev, described)
        out.append(ev)
    return out


def build_examples(
    sampled_tracks: int = 400, seed: int = 0, clips: bool = True, progress: Callable[[str], None] = print
) -> list[Example]:
    """Every window with one target each (two for training windows, in different words)."""
    rng = random.Random(seed)
    sources: list[tuple[str, str, list[Evidence]]] = []
    if clips:
        progress("evidence from the bundled clips (the fast path, with voice where the clip has sound):")
        for name, split in CLIP_SPLITS.items():
            sources.append((name, split, clip_evidence(DATA / name, progress)))
    for k in range(sampled_tracks):
        source = f"sampled-{seed}-{k}"
        sources.append((source, _split_of(source), sampled_track(seed * 100_003 + k)))
    examples = []
    for source, split, windows in sources:
        for ev in windows:
            for _ in range(2 if split == "train" else 1):
                _, target = target_answer(ev, rng)
                examples.append(Example(source, split, ev, build_prompt(ev, PROMPT_STYLE), target))
    return examples


def data_hash(examples: list[Example]) -> str:
    h = hashlib.sha256()
    for e in examples:
        h.update(json.dumps(e.record(), sort_keys=True).encode())
    return h.hexdigest()


def write_jsonl(examples: list[Example], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        for e in examples:
            f.write(json.dumps(e.record()) + "\n")
