"""Evidence windows: the facts the explainer may state, computed in code from the fast path's output.

The small language models invent details when left free, so every claim is
decided here (which cues hold, with which numbers) and the model only phrases
them. A window is per face; landmark cues are compared with the face's own
earlier windows, because a wide mouth on one face is a neutral one on another.
"""

from __future__ import annotations

import math
import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from engines.contracts import EMOTIONS, Evidence, FacialActions, Fact, FrameResult, LandmarkCues, Quantity, VoiceCues
from engines.slow.action_facts import ActionFrame, blink_fact, moved_facts, reading_facts
from engines.slow.grounding import EMOTION_WORDS

NEUTRAL = EMOTIONS.index("neutral")


@dataclass(frozen=True)
class FaceSample:
    """One face on one frame: what both a live FrameResult and a recorded frames.csv row carry."""

    t: float
    track_id: int  # the person's number (FaceObservation.person_id): the slow path follows people
    probs: np.ndarray  # smoothed, over EMOTIONS
    uncertain: bool
    margin: float
    entropy: float
    cues: LandmarkCues
    actions: FacialActions | None = None  # None without the mesh or while the person's baseline is learned
    action_label: str | None = None
    disagrees: bool = False


@dataclass(frozen=True)
class EvidenceSettings:
    window_s: float = 1.0
    min_frames: int = 3  # a face seen on fewer frames of a window gets no evidence for it
    trend_min: float = 0.10  # change of the label's probability across the window worth stating
    cue_change_min: float = 0.08  # relative change of a landmark cue from the face's usual
    roll_min_deg: float = 10.0
    yaw_min: float = 0.15
    key_frames: int = 2
    key_frame_gap_s: float = 0.2


USUAL_WINDOWS = 120


@dataclass
class _Track:
    samples: list[FaceSample] = field(default_factory=list)
    window_index: int | None = None
    last_label: str | None = None
    # a face's "usual" mouth: the median of its last USUAL_WINDOWS windows (a face in view for hours keeps two
    # minutes of them, not every window it ever had)
    mouth_width_history: deque[float] = field(default_factory=lambda: deque(maxlen=USUAL_WINDOWS))
    mouth_drop_history: deque[float] = field(default_factory=lambda: deque(maxlen=USUAL_WINDOWS))


def samples_from_result(result: FrameResult) -> list[FaceSample]:
    """The faces of a frame as the slow path keys them: by person (a face whose person is not known yet, for the
    moment its descriptor takes, is left out)."""
    return [
        FaceSample(
            result.t,
            f.person_id,
            f.probs,
            f.uncertain,
            f.margin,
            f.entropy,
            f.cues,
            f.actions,
            f.action_label,
            f.disagrees,
        )
        for f in result.faces
        if f.person_id is not None
    ]


def _num(value: float, digits: int = 2) -> str:
    return f"{value:.{digits}f}"


def _between(value: str, a: str, b: str) -> bool:
    """Whether a written figure lies between two others, within their rounding."""
    lo, hi = sorted((float(a), float(b)))
    return lo - 0.01 <= float(value) <= hi + 0.01


# What each fact's numbers are quantities of, and the words that name them in a sentence (grounding.py binds a
# number written after one of these words to this subject). An emotion's probability is named by the emotion.
# A new kind of fact is one call that declares the same, e.g.
#   Fact("blink_rate", "blink rate 22 per minute", (Quantity("blink rate", "22", "per minute", ("blink",)),),
#        words=("blink",))
# (its quantities' subjects, values as written, units and naming words; `words`: what claims the fact at all).
SUBJECTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "duration": ("duration", ("over", "for", "during", "lasting", "duration")),
    "margin": ("margin", ("margin", "gap", "differ", "by")),
    "trend start": ("trend start", ("from", "rising", "rose", "falling", "fell", "increas", "decreas", "trend")),
    "trend end": ("trend end", ("to", "rising", "rose", "falling", "fell", "increas", "decreas", "trend")),
    "key frame": ("key frame", ("at", "through", "expressive", "strongest", "peak", "key frame")),
    "mouth_width": ("mouth width", ("mouth", "smil", "grin", "wider", "widen", "narrow")),
    "mouth_drop": ("mouth line", ("mouth line", "mouth", "nose")),
    "head_roll": ("head tilt", ("tilt", "head", "roll")),
    "loudness": ("loudness", ("loud", "voice", "speak", "speech", "volume")),
    "pitch": ("pitch", ("pitch", "voice", "speak", "speech")),
    "pitch variability": ("pitch variability", ("pitch var", "variab", "voice", "speak", "speech")),
    "speaking rate": ("speaking rate", ("rate", "syllable", "voice", "speak", "speech")),
}


def _bound(subject: str, value: str, unit: str = "") -> Quantity:
    name, words = SUBJECTS[subject]
    return Quantity(name, value, unit, words)


def probability(emotion: str, value: str) -> Quantity:
    """An emotion's probability over the window, named by the emotion's words."""
    return Quantity(emotion, value, "", EMOTION_WORDS[emotion])


def label_fact(label: str, p: str, second: str, p2: str, duration: str) -> Fact:
    return Fact(
        "label",
        f"{label} over {duration} s, probability {p} (second: {second} {p2})",
        (_bound("duration", duration, "s"), probability(label, p), probability(second, p2)),
    )


def written_probabilities(evidence: Evidence) -> tuple[str, str]:
    """The label's and the runner-up's probabilities as the label fact writes them ("0.80", not 0.8)."""
    label_fact = evidence.facts[0]
    by_subject = {q.subject: q.value for q in label_fact.quantities}
    return by_subject[evidence.label], by_subject[evidence.second_label]


def uncertain_fact(label: str, p: str, second: str, p2: str) -> Fact:
    """The margin is the difference of the two probabilities as the label fact writes them: one definition, so
    that no reader's subtraction disagrees with it."""
    margin = _num(float(p) - float(p2))
    return Fact(
        "uncertain",
        f"the fast path is unsure: margin {margin} between {label} and {second}",
        (_bound("margin", margin),),
    )


def trend_fact(label: str, start: str, end: str) -> Fact:
    direction = "rising" if float(end) > float(start) else "falling"
    return Fact(
        "trend",
        f"{label} probability {direction} from {start} to {end}",
        (_bound("trend start", start), _bound("trend end", end)),
    )


def key_frames_fact(times: tuple[str, ...]) -> Fact:
    quantities = tuple(_bound("key frame", t, "s") for t in times)
    return Fact("key_frames", "most expressive at " + " and ".join(q.written for q in quantities), quantities)


def head_roll_fact(degrees: str) -> Fact:
    return Fact("head_roll", f"head tilted {degrees} degrees", (_bound("head_roll", degrees, "degrees"),))


def mouth_fact(cue: str, text: str, pct: str) -> Fact:
    """`mouth_width` or `mouth_drop`: a relative change of the mouth's geometry, in percent."""
    return Fact(cue, text, (_bound(cue, pct, "%"),))


class EvidenceBuilder:
    """Feed it every frame's faces in time order; it hands back each face's window as the window closes."""

    def __init__(self, settings: EvidenceSettings | None = None):
        self.settings = settings or EvidenceSettings()
        self._tracks: dict[int, _Track] = {}
        self._last_t: float | None = None  # the newest frame's time: where the input's last windows end

    def add_result(self, result: FrameResult, voice: VoiceCues | None = None) -> list[Evidence]:
        return self.add(result.t, samples_from_result(result), voice or result.voice)

    def add(self, t: float, samples: Iterable[FaceSample], voice: VoiceCues | None = None) -> list[Evidence]:
        index = math.floor(t / self.settings.window_s)
        self._last_t = t
        closed = self._close(before=index, voice=voice)
        for sample in samples:
            track = self._tracks.setdefault(sample.track_id, _Track())
            track.window_index = index
            track.samples.append(sample)
        return closed

    def forget(self, track_ids: set[int]) -> None:
        """Drops faces that left long ago (their open window was closed when they left)."""
        for tid in track_ids:
            track = self._tracks.get(tid)
            if track is not None and not track.samples:
                del self._tracks[tid]

    @property
    def tracks(self) -> int:
        return len(self._tracks)

    @property
    def history(self) -> int:
        """Window values kept for the faces' usual geometry, over all faces."""
        return sum(len(t.mouth_width_history) + len(t.mouth_drop_history) for t in self._tracks.values())

    def flush(self, voice: VoiceCues | None = None) -> list[Evidence]:
        """Close every open window (the end of a session); they end at the last frame, not after it."""
        return self._close(before=None, voice=voice, end=self._last_t)

    def _close(self, before: int | None, voice: VoiceCues | None, end: float | None = None) -> list[Evidence]:
        out = []
        for track_id, track in sorted(self._tracks.items()):
            if not track.samples or (before is not None and track.window_index >= before):
                continue
            evidence = self._evidence(track_id, track, voice, end)
            track.samples = []
            if evidence is not None:
                out.append(evidence)
        return out

    def _evidence(
        self, track_id: int, track: _Track, voice: VoiceCues | None, end: float | None = None
    ) -> Evidence | None:
        s = self.settings
        samples = track.samples
        if len(samples) < s.min_frames:
            return None
        w0 = track.window_index * s.window_s
        w1 = w0 + s.window_s if end is None else min(w0 + s.window_s, max(end, samples[-1].t))
        window = (round(w0, 3), round(w1, 3))
        probs = np.stack([x.probs for x in samples]).astype(np.float64)
        mean = probs.mean(axis=0)
        order = np.argsort(mean)[::-1]
        top, second = int(order[0]), int(order[1])
        label, second_label = EMOTIONS[top], EMOTIONS[second]
        confidence, second_conf = float(mean[top]), float(mean[second])
        frame_margin = float(np.mean([x.margin for x in samples]))
        entropy = float(np.mean([x.entropy for x in samples]))
        uncertain_share = float(np.mean([x.uncertain for x in samples]))
        duration = samples[-1].t - samples[0].t
        p1, p2 = _num(confidence), _num(second_conf)

        facts = [label_fact(label, p1, second_label, p2, _num(duration, 1))]
        if uncertain_share >= 0.5:
            facts.append(uncertain_fact(label, p1, second_label, p2))
        changed_from = track.last_label if track.last_label not in (None, label) else None
        if changed_from:
            facts.append(Fact("change", f"changed from {changed_from} to {label}"))
        quarter = max(1, len(probs) // 4)
        start, end = float(probs[:quarter, top].mean()), float(probs[-quarter:, top].mean())
        if abs(end - start) >= s.trend_min and _between(p1, _num(start), _num(end)):
            facts.append(trend_fact(label, _num(start), _num(end)))
        facts += self._geometry_facts(track, samples)
        key_frames = self._key_frames(samples)
        if key_frames:
            facts.append(key_frames_fact(tuple(_num(k) for k in key_frames)))
        frames = [ActionFrame(x.t, x.actions, x.action_label, x.disagrees) for x in samples]
        facts += moved_facts(frames)
        blinks = blink_fact(frames)
        if blinks is not None:
            facts.append(blinks)
        reading, disagreement = reading_facts(frames, label)
        facts += reading
        if voice is not None:
            facts.append(_voice_fact(voice))
        track.last_label = label
        return Evidence(
            action_disagreement=round(disagreement, 3),
            track_id=track_id,
            window=window,
            label=label,
            confidence=round(confidence, 4),
            second_label=second_label,
            second_confidence=round(second_conf, 4),
            frame_margin=round(frame_margin, 4),
            entropy=round(entropy, 4),
            uncertain_share=round(uncertain_share, 3),
            changed_from=changed_from,
            key_frames=key_frames,
            facts=tuple(facts),
            voice=voice,
        )

    def _geometry_facts(self, track: _Track, samples: list[FaceSample]) -> list[Fact]:
        s = self.settings
        facts = []
        relative = (
            (
                "mouth_width",
                track.mouth_width_history,
                "mouth {pct}% {word} than this face's usual",
                "wider",
                "narrower",
            ),
            (
                "mouth_drop",
                track.mouth_drop_history,
                "mouth line {pct}% {word} the nose than usual",
                "further below",
                "closer to",
            ),
        )
        for cue, history, text, more, less in relative:
            value = float(np.median([getattr(x.cues, cue) for x in samples]))
            if history:
                change = value / max(float(np.median(history)), 1e-6) - 1
                if abs(change) >= s.cue_change_min:
                    pct = f"{abs(change) * 100:.0f}"
                    word = more if change > 0 else less
                    facts.append(mouth_fact(cue, text.format(pct=pct, word=word), pct))
            history.append(value)
        roll = float(np.median([x.cues.roll_deg for x in samples]))
        if abs(roll) >= s.roll_min_deg:
            deg = f"{abs(roll):.0f}"
            facts.append(head_roll_fact(deg))
        yaw = float(np.median([x.cues.yaw for x in samples]))
        if abs(yaw) >= s.yaw_min:
            side = "right" if yaw > 0 else "left"
            facts.append(Fact("head_turn", f"head turned to the {side}"))
        return facts

    def _key_frames(self, samples: list[FaceSample]) -> tuple[float, ...]:
        """The most expressive (furthest from neutral) and most confident frames, a little apart in time."""
        scores = [(float(x.probs.max()) * (1.0 - float(x.probs[NEUTRAL]) + 0.05), x.t) for x in samples]
        chosen: list[float] = []
        for _, t in sorted(scores, reverse=True):
            if all(abs(t - c) >= self.settings.key_frame_gap_s for c in chosen):
                chosen.append(t)
            if len(chosen) == self.settings.key_frames:
                break
        return tuple(sorted(round(t, 2) for t in chosen))


def _voice_fact(voice: VoiceCues) -> Fact:
    parts = ["speaking" if voice.speech else "no speech"]
    bound = []
    measures = (
        ("loudness", voice.loudness_db, "{:.0f}", "dBFS"),
        ("pitch", voice.pitch_hz, "{:.0f}", "Hz"),
        ("pitch variability", voice.pitch_var, "{:.0f}", "Hz"),
        ("speaking rate", voice.rate, "{:.1f}", "syllables/s"),
    )
    for name, value, form, unit in measures:
        if value is not None:
            q = _bound(name, form.format(value), unit)
            parts.append(f"{name} {q.written}")
            bound.append(q)
    return Fact("voice", "voice: " + ", ".join(parts), tuple(bound))


def with_conflict(evidence: Evidence, description: str) -> Evidence:
    """Marks face/voice disagreement (decided by fusion) on a window, as a fact the explainer must cite. The voice
    figures the description repeats are bound as the voice fact binds them."""
    from dataclasses import replace

    text = f"face and voice disagree: {description}"
    voice = [q for f in evidence.facts if f.cue == "voice" for q in f.quantities]
    fact = Fact("conflict", text, tuple(q for q in voice if re.search(_written_pattern(q), text)))
    return replace(evidence, conflict=True, facts=(*evidence.facts, fact))


def _written_pattern(q: Quantity) -> str:
    return r"(?<![\w.])" + re.escape(q.written) + r"(?![\w/])"
