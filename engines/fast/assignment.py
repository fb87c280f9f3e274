"""The optimal one-to-one matching of tracks to detections (the Hungarian method with potentials).

scipy's `linear_sum_assignment` gives the same answer, but importing
`scipy.optimize` costs half a second of every start, before the first frame;
a frame holds a handful of faces, and this takes microseconds for them.
"""

from __future__ import annotations

import numpy as np


def min_cost_assignment(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows, columns) of a matching of minimum total cost that pairs min(n, m) of them, rows ascending; the
    answer `scipy.optimize.linear_sum_assignment` gives."""
    cost = np.asarray(cost, dtype=np.float64)
    transposed = cost.shape[0] > cost.shape[1]
    if transposed:
        cost = cost.T
    n, m = cost.shape
    u, v = np.zeros(n + 1), np.zeros(m + 1)  # the potentials of rows and columns
    owner = np.zeros(m + 1, dtype=np.int64)  # owner[j]: the row (from 1) holding column j; 0: free
    way = np.zeros(m + 1, dtype=np.int64)
    for row in range(1, n + 1):
        owner[0] = row
        j0 = 0
        shortest = np.full(m + 1, np.inf)
        used = np.zeros(m + 1, dtype=bool)
        while owner[j0] != 0 or j0 == 0:  # grow the alternating tree until it reaches a free column
            used[j0] = True
            free = ~used[1:]
            reduced = cost[owner[j0] - 1] - u[owner[j0]] - v[1:]
            better = free & (reduced < shortest[1:])
            shortest[1:][better] = reduced[better]
            way[1:][better] = j0
            candidates = np.where(free, shortest[1:], np.inf)
            j1 = int(np.argmin(candidates)) + 1
            delta = candidates[j1 - 1]
            tree = np.flatnonzero(used)
            u[owner[tree]] += delta
            v[tree] -= delta
            shortest[1:][free] -= delta
            j0 = j1
        while j0:  # flip the path: each column on it passes to the row before
            j1 = way[j0]
            owner[j0] = owner[j1]
            j0 = j1
    cols = np.flatnonzero(owner[1:])
    rows = owner[1:][cols] - 1
    if transposed:
        rows, cols = cols, rows
    order = np.argsort(rows)
    return rows[order], cols[order]
