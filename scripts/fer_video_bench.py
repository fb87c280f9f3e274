"""Times the `fer` package's own video analysis on a clip (run inside fer's own venv; see bench-vs-fer.sh).

Prints one JSON line: frames, seconds, frames/s, for each repeat. Saving and annotation are off so that
fer is timed on its analysis (Haar cascade detection + mini-Xception on every frame), as emolens is.
"""

import json
import os
import sys
import tempfile
import time

from fer.classes import Video
from fer.fer import FER

path, repeats = os.path.abspath(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 3
home = os.getcwd()
detector = FER(mtcnn=False)
runs = []
for _ in range(repeats):
    with tempfile.TemporaryDirectory() as out:
        os.chdir(out)  # fer's analyze writes a data.csv into the working folder
        video = Video(path, outdir=out)
        start = time.perf_counter()
        result = video.analyze(
            detector,
            display=False,
            frequency=1,
            save_frames=False,
            save_video=False,
            annotate_frames=False,
            zip_images=False,
        )
        seconds = time.perf_counter() - start
        os.chdir(home)
    runs.append({"frames": len(result), "seconds": seconds, "fps": len(result) / seconds})
print(json.dumps({"tool": "fer", "input": path, "runs": runs}))
