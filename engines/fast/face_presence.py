"""FacePresence: which tracks are faces, and the person numbers users see.

The detector also boxes hair, hands and dark backgrounds now and then; each such
box used to become a short-lived "person". The face mesh's presence score reads
near 1 on faces (0.9999998 at the lowest on the export check's real faces) and near
0 on most of those, but a few non-faces (an orange spacesuit) read up to 0.66. So a
box under `min_score` is never a face; a track is a person at once when it reads at
least `sure_score`, and otherwise only once it has read as a face for `min_face_s`
in a row; after that it is reported on every frame where it still reads as a face.
Reported tracks are numbered 1, 2, 3... in the order they became faces, so the
numbers a user sees count people, not rejected boxes.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class _Track:
    face_since: float | None = None
    person: int | None = None


class FacePresence:
    def __init__(self, min_score: float = 0.5, min_face_s: float = 0.3, sure_score: float = 0.95):
        self.min_score = min_score
        self.min_face_s = min_face_s
        self.sure_score = sure_score
        self._tracks: dict[int, _Track] = {}
        self._next_person = 1
        self.rejected = 0  # track-frames not reported because the mesh read no face there

    def update(self, track_id: int, t: float, score: float) -> int | None:
        """The person number to report this track under on this frame, or None: not (yet) a face."""
        track = self._tracks.setdefault(track_id, _Track())
        if score < self.min_score:
            track.face_since = None
            self.rejected += 1
            return None
        if track.face_since is None:
            track.face_since = t
        if track.person is None:
            if score < self.sure_score and t - track.face_since < self.min_face_s:
                return None
            track.person = self._next_person
            self._next_person += 1
        return track.person

    def person(self, track_id: int) -> int | None:
        track = self._tracks.get(track_id)
        return None if track is None else track.person

    def retain(self, track_ids: set[int]) -> None:
        for tid in [t for t in self._tracks if t not in track_ids]:
            del self._tracks[tid]

    @property
    def tracks(self) -> int:
        return len(self._tracks)

    @property
    def people(self) -> int:
        """People reported so far in this session."""
        return self._next_person - 1
