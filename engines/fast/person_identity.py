"""PersonIdentity: people, not tracks. A new track that is a person seen earlier in the session continues them.

A track ends whenever a face turns away, leaves the view or is hidden; without
this, each return is counted as someone new. Each track's face is described
(engines/fast/face_descriptor.py) when it is large and frontal enough to compare;
its descriptor is compared with the people who could be it: those none of whose
sightings overlaps this track's (two faces in view at once are never one
person). The nearest within `threshold` continues; with no one within
`new_above`, the track is a new person; in between, the face is described again.
Where no one could be it, a track is a new person at once; otherwise it waits
for its descriptor, even past its own end (a file is read faster than a
descriptor is made). A track in view for `give_up_s` without a match is a new
person; one that ends without ever being describable stays no one (its rows
have no person). Descriptors are kept in memory for the session only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# Fitted on the faces emolens ships (tests/test_person_identity.py prints the figures): the same face, panned
# and zoomed in the bundled clips, lies at most 0.33 from its earlier descriptors; the closest two different
# people among the bundled photos' eight lie 0.63 apart (export-models checks both sides). At or under 0.5 a
# track is that person; over 0.65 it is someone new. Between, the face is described again: live, on faces
# blurred by a fast pan or cut by the frame's edge, returns read 0.52-0.61 (a 30-minute soak: 2 of about
# 1,700 returns over 0.6, dlib's own threshold, which had made them new people). A face still between after
# `give_up_s` in view is someone new.
DISTANCE_THRESHOLD = 0.5
NEW_PERSON_ABOVE = 0.65


@dataclass(frozen=True)
class IdentitySettings:
    threshold: float = DISTANCE_THRESHOLD  # the nearest person at or under this distance is the track's person
    new_above: float = NEW_PERSON_ABOVE  # no one under this distance: a new person; between: described again
    retry_s: float = 0.3  # how soon a face in between is described again
    min_face_px: float = 40.0  # narrower faces give chips too blurred to compare
    max_cut: float = 0.25  # a face cut by the frame's edge by more than this share of its box is not described
    max_yaw_deg: float = 30.0  # a profile is described as someone else
    gallery: int = 6  # descriptors kept per person (the newest), to match returns from other angles
    refresh_s: float = 3.0  # a track seen this long since its last descriptor is described again
    give_up_s: float = 3.0  # a track in view this long whose person is still not known is a new person


@dataclass(frozen=True)
class IdentityDecision:
    """Who a track is: a new person or a returning one (with the descriptor distance that decided it)."""

    track_id: int
    person_id: int
    t: float
    returning: bool
    distance: float | None  # to the nearest person who was not in view; None where no one could be compared
    reason: str

    def record(self) -> dict:
        return {
            "event": "person",
            "t": round(self.t, 3),
            "track_id": self.track_id,
            "person_id": self.person_id,
            "returning": self.returning,
            "distance": None if self.distance is None else round(self.distance, 4),
            "reason": self.reason,
        }


@dataclass
class _Track:
    first_t: float
    last_t: float  # when the detector last found its face: a track the tracker only predicts is not a sighting
    person: int | None = None
    asked_t: float | None = None  # when its face was last sent to be described
    retry_t: float = 0.0  # not described again before this (an answer in between the two distances)
    nearest: float | None = None  # the nearest distance its descriptors came to anyone (while undecided)
    descriptors: list[np.ndarray] = field(default_factory=list)  # taken while undecided: its person's, later


@dataclass
class _Person:
    gallery: list[np.ndarray] = field(default_factory=list)
    seen: list[tuple[float, float]] = field(default_factory=list)  # the sightings of its ended tracks


ENDED_KEPT = 64  # ended tracks remembered, so that a descriptor asked before a track ended still counts
SEEN_KEPT = 256  # sightings kept per person (the newest): who could be a new track is decided on them


class PersonIdentity:
    def __init__(self, settings: IdentitySettings | None = None):
        self.settings = settings or IdentitySettings()
        self._tracks: dict[int, _Track] = {}  # in view
        self._ended: dict[int, _Track] = {}  # ended, for descriptors and decisions that come after the end
        self._people: dict[int, _Person] = {}
        self.decisions: list[IdentityDecision] = []  # taken by the caller (`take_decisions`)
        self.blind: str | None = None  # why faces cannot be described (the describer failed): people = tracks

    def person(self, track_id: int) -> int | None:
        track = self._tracks.get(track_id) or self._ended.get(track_id)
        return None if track is None else track.person

    @property
    def people(self) -> int:
        return len(self._people)

    def _candidates(self, track: _Track) -> set[int]:
        """People who could be this track: none of their sightings, ended or in view, overlaps it. A track
        still kept while its face is gone (the tracker coasts for a moment) overlaps only up to its last
        detection: a looped clip's jump back ends every track at once and starts new ones at once."""
        busy = {
            other.person
            for other in self._tracks.values()
            if other is not track
            and other.person is not None
            and other.first_t <= track.last_t
            and other.last_t >= track.first_t
        }
        for number, person in self._people.items():
            if any(a <= track.last_t and b >= track.first_t for a, b in person.seen):
                busy.add(number)
        return set(self._people) - busy

    def _decide(self, track_id: int, track: _Track, person: int | None, distance: float | None, reason: str) -> None:
        returning = person is not None
        if person is None:
            person = len(self._people) + 1
            self._people[person] = _Person()
        track.person = person
        if track_id in self._ended:
            self._close(track)
        self.decisions.append(IdentityDecision(track_id, person, track.last_t, returning, distance, reason))

    def _close(self, track: _Track) -> None:
        seen = self._people[track.person].seen
        seen.append((track.first_t, track.last_t))
        del seen[:-SEEN_KEPT]

    def observe(self, track_id: int, t: float, describable: bool, detected: bool = True) -> bool:
        """The track was seen at `t` (`detected`: found by the detector, not only predicted); True when its face
        should be described now."""
        return self.observe_frame(t, [(track_id, describable, detected)])[0]

    def observe_frame(self, t: float, faces: list[tuple[int, bool, bool]]) -> list[bool]:
        """A frame's faces as (track, describable, detected): every sighting is noted before anyone is decided
        (a face decided first must not miss one found on the same frame). For each, whether to describe it."""
        s = self.settings
        for track_id, _, detected in faces:
            track = self._tracks.get(track_id)
            if track is None:
                self._tracks[track_id] = _Track(first_t=t, last_t=t)
            elif detected:
                track.last_t = t
        wanted = []
        for track_id, describable, _ in faces:
            track = self._tracks[track_id]
            if track.person is None:
                if self.blind is not None:
                    self._decide(track_id, track, None, None, f"faces cannot be compared: {self.blind}")
                elif not self._candidates(track):
                    self._decide(track_id, track, None, None, "no one seen before could be this face")
                elif t - track.first_t >= s.give_up_s and track.asked_t is None:
                    why = f"not matched to anyone in {s.give_up_s:g} s in view"
                    self._decide(track_id, track, None, track.nearest, why)
            ask = describable and self.blind is None
            ask = ask and t >= track.retry_t
            ask = ask and (track.asked_t is None or (track.person is not None and t - track.asked_t >= s.refresh_s))
            if ask:
                track.asked_t = t
            wanted.append(ask)
        return wanted

    def undecided(self) -> list[int]:
        """Tracks, in view or ended, whose person is not known yet."""
        return [tid for tid, tr in (self._tracks | self._ended).items() if tr.person is None]

    def urgent(self, track_id: int) -> bool:
        """Whether the track's descriptor is awaited: its person is undecided, or has nothing to be matched by."""
        track = self._tracks.get(track_id) or self._ended.get(track_id)
        return track is None or track.person is None or not self._people[track.person].gallery

    def wanted(self) -> set[int]:
        """Tracks whose waiting descriptors are still of use: those in view, and ended ones that are undecided
        or whose person has none yet (a person seen only briefly must still be recognisable when they return)."""
        return set(self._tracks) | {tid for tid in self._ended if self.urgent(tid)}

    def described(self, track_id: int, t: float, descriptor: np.ndarray | None) -> None:
        """A descriptor of the track's face arrived (None: the face could not be described; it is asked again)."""
        track = self._tracks.get(track_id) or self._ended.get(track_id)
        if track is None:
            return
        if descriptor is None:
            if track_id in self._ended and track.person is None:
                self._decide(track_id, track, None, None, "its face could not be described")
            track.asked_t = None
            return
        if track.person is None:
            distances = {p: self._distance(p, descriptor) for p in self._candidates(track)}
            nearest = min(distances, key=distances.get, default=None)
            distance = None if nearest is None else distances[nearest]
            if distance is not None:
                track.nearest = distance if track.nearest is None else min(track.nearest, distance)
            if nearest is not None and distance <= self.settings.threshold:
                self._decide(track_id, track, nearest, distance, "the nearest face of someone not in view")
            elif nearest is None or distance > self.settings.new_above:
                self._decide(track_id, track, None, distance, "no one not in view was near enough")
            else:  # in between: not sure enough either way; another look at the face decides
                track.descriptors.append(descriptor)
                track.asked_t, track.retry_t = None, t + self.settings.retry_s
                return
        gallery = self._people[track.person].gallery
        gallery.extend([*track.descriptors, descriptor])
        track.descriptors = []
        del gallery[: -self.settings.gallery]

    def _distance(self, person: int, descriptor: np.ndarray) -> float:
        gallery = self._people[person].gallery
        if not gallery:
            return float("inf")
        return float(np.min(np.linalg.norm(np.stack(gallery) - descriptor, axis=1)))

    def take_decisions(self) -> list[IdentityDecision]:
        out, self.decisions = self.decisions, []
        return out

    def retain(self, track_ids: set[int]) -> None:
        """Tracks not in `track_ids` ended: their people may now come back. One that ended undecided waits for
        the descriptor it was sent for; one never describable (a moment at the frame's edge, too small) stays
        no one: it could be anyone, and counting it as someone new would make up a person."""
        for tid in [t for t in self._tracks if t not in track_ids]:
            track = self._tracks.pop(tid)
            self._ended[tid] = track
            if track.person is not None:
                self._close(track)
        while len(self._ended) > ENDED_KEPT:
            del self._ended[next(iter(self._ended))]

    @property
    def tracks(self) -> int:
        return len(self._tracks)
