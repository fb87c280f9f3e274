"""FaceVoiceFusion: a face expert and a voice expert, weighed per window by a gate, and a conflict flag.

The two experts meet on arousal, the one axis both can see. The face expert
reads it from the label mix (each label's place on Russell's circumplex); the
voice expert from loudness, pitch and pitch variability, as z-scores against a
calibration of ordinary speech. The gate weighs them by how far each can be
trusted in this window: the face by how certain its label is (1 - entropy),
the voice by whether there is speech with a measurable pitch. A conflict is a
window where both are trustworthy and their arousal differs by more than a
threshold (a loud, high voice over a neutral face).

The calibration and the threshold are fitted on recorded sessions by
`emolens fit-fusion` (see `fit_fusion`), never set by hand; the defaults below
are its output on the bundled talking clip (`tests/data/talking_neutral.mp4`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import ClassVar

import numpy as np

from engines.contracts import Evidence, FusedState, VoiceCues
from engines.errors import EmolensError
from engines.settings_file import load_settings
from engines.slow.evidence import with_conflict
from engines.summary_stats import robust_spread

# arousal of each label on Russell's circumplex (1980), coarsely: the face expert's prior, not a fitted value
LABEL_AROUSAL = {
    "angry": 0.8,
    "disgust": 0.5,
    "fear": 0.8,
    "happy": 0.6,
    "sad": 0.25,
    "surprise": 0.9,
    "neutral": 0.15,
}


@dataclass(frozen=True)
class FusionSettings:
    # the defaults: `emolens analyze tests/data/talking_neutral.mp4 --out DIR; emolens fit-fusion DIR`
    loudness_db: tuple[float, float] = (-20.05, 2.0)  # calibration: ordinary speech's median and spread
    pitch_hz: tuple[float, float] = (107.1, 10.0)
    pitch_var_hz: tuple[float, float] = (7.15, 4.0)
    conflict_threshold: float = 0.49  # |voice - face arousal| above which a trustworthy window conflicts
    min_face_trust: float = 0.4
    fitted_on: tuple[str, ...] = ("tests/data/talking_neutral.mp4",)

    LIMITS: ClassVar[dict[str, tuple[float, float]]] = {
        "conflict_threshold": (0.0, 1.0),
        "min_face_trust": (0.0, 1.0),
    }

    @classmethod
    def load(cls, path: Path) -> FusionSettings:
        """A JSON file as written by `emolens fit-fusion` (its "settings" key) or a bare settings object."""
        return load_settings(cls, path, "fusion")

    def as_dict(self) -> dict:
        return asdict(self)


def face_arousal(evidence: Evidence) -> float:
    total = evidence.confidence + evidence.second_confidence
    if total <= 0:
        return LABEL_AROUSAL.get(evidence.label, 0.5)
    return (
        evidence.confidence * LABEL_AROUSAL.get(evidence.label, 0.5)
        + evidence.second_confidence * LABEL_AROUSAL.get(evidence.second_label, 0.5)
    ) / total


def voice_z(voice: VoiceCues, s: FusionSettings) -> list[float]:
    z = [(voice.loudness_db - s.loudness_db[0]) / s.loudness_db[1]]
    if voice.pitch_hz is not None:
        z.append((voice.pitch_hz - s.pitch_hz[0]) / s.pitch_hz[1])
    if voice.pitch_var is not None:
        z.append((voice.pitch_var - s.pitch_var_hz[0]) / s.pitch_var_hz[1])
    return z


def voice_arousal(voice: VoiceCues | None, s: FusionSettings) -> float | None:
    if voice is None or not voice.speech:
        return None
    return 1.0 / (1.0 + math.exp(-float(np.mean(voice_z(voice, s)))))


class FaceVoiceFusion:
    def __init__(self, settings: FusionSettings | None = None):
        self.settings = settings or FusionSettings()

    def assess(self, evidence: Evidence) -> FusedState:
        s = self.settings
        face = face_arousal(evidence)
        voice = voice_arousal(evidence.voice, s)
        face_trust = 1.0 - evidence.entropy
        voice_trust = 0.0 if voice is None else (1.0 if evidence.voice.pitch_hz is not None else 0.5)
        weight = voice_trust / (voice_trust + face_trust) if voice_trust + face_trust > 0 else 0.0
        fused = face if voice is None else (1 - weight) * face + weight * voice
        if voice is None:
            return FusedState(
                evidence.track_id, evidence.window, evidence.label, face, None, 0.0, fused, False, "no speech"
            )
        gap = voice - face
        conflict = abs(gap) > s.conflict_threshold and face_trust >= s.min_face_trust and voice_trust >= 1.0
        reason = f"voice arousal {voice:.2f} vs face {face:.2f} (gap {gap:+.2f}, threshold {s.conflict_threshold:.2f})"
        return FusedState(
            evidence.track_id, evidence.window, evidence.label, face, voice, weight, fused, conflict, reason
        )

    def apply(self, evidence: Evidence) -> tuple[Evidence, FusedState]:
        """The window's fused state, and its evidence marked with the conflict for the gate and the prompt."""
        state = self.assess(evidence)
        if not state.conflict:
            return evidence, state
        v = evidence.voice
        high = state.voice_arousal > state.face_arousal
        described = (
            f"the voice sounds {'aroused' if high else 'flat'} (loudness {v.loudness_db:.0f} dBFS"
            + (f", pitch {v.pitch_hz:.0f} Hz" if v.pitch_hz is not None else "")
            + f") while the face reads {evidence.label}"
        )
        return with_conflict(evidence, described), state


def fusion_record(state: FusedState, voice: VoiceCues | None) -> dict:
    """events.jsonl: the fused state of one person and window, with the voice cues it used."""
    return {
        "event": "fusion",
        "track_id": state.track_id,
        "window": list(state.window),
        "label": state.label,
        "face_arousal": round(state.face_arousal, 3),
        "voice_arousal": None if state.voice_arousal is None else round(state.voice_arousal, 3),
        "voice_weight": round(state.voice_weight, 3),
        "arousal": round(state.arousal, 3),
        "conflict": state.conflict,
        "reason": state.reason,
        "voice": None
        if voice is None
        else {
            "speech": voice.speech,
            "loudness_db": voice.loudness_db,
            "pitch_hz": voice.pitch_hz,
            "pitch_var_hz": voice.pitch_var,
            "rate_syllables_s": voice.rate,
        },
    }


def fit_fusion(records: list[dict], target: float = 0.05, sources: tuple[str, ...] = ()) -> dict:
    """Fits the calibration and the threshold on recorded sessions' `fusion` events.

    Calibration: each voice feature's median and robust spread (1.4826 x MAD) over the windows with speech.
    Threshold: the smallest gap that flags at most `target` of those windows as conflicts, so that ordinary
    recorded speech rarely conflicts and the flag keeps its meaning.
    """
    speech = [r for r in records if r.get("voice") and r["voice"].get("speech")]
    if len(speech) < 5:
        raise EmolensError(f"only {len(speech)} window(s) with speech in these sessions: record more (5 at least)")

    def robust(key: str, floor: float) -> tuple[float, float]:
        values = np.array([r["voice"][key] for r in speech if r["voice"].get(key) is not None], float)
        if len(values) == 0:  # no pitch measured anywhere: keep the default calibration for it
            return getattr(FusionSettings(), key)
        return round(float(np.median(values)), 2), round(max(floor, robust_spread(values)), 2)

    settings = FusionSettings(
        loudness_db=robust("loudness_db", 2.0),
        pitch_hz=robust("pitch_hz", 10.0),
        pitch_var_hz=robust("pitch_var_hz", 4.0),
        fitted_on=sources,
    )
    gaps = []
    for r in speech:
        v = r["voice"]
        cues = VoiceCues(True, v["loudness_db"], v.get("pitch_hz"), v.get("pitch_var_hz"), v.get("rate_syllables_s"))
        gaps.append(abs(voice_arousal(cues, settings) - r["face_arousal"]))
    allowed = int(target * len(gaps))  # windows of ordinary speech that may still be flagged
    threshold = sorted(gaps)[len(gaps) - allowed - 1] + 1e-3
    settings = replace(settings, conflict_threshold=round(threshold, 3))
    flagged = sum(g > settings.conflict_threshold for g in gaps)
    return {"settings": settings.as_dict(), "windows_with_speech": len(speech), "conflicts": flagged, "target": target}
