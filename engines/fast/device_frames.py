"""Preprocessing on the accelerator: a frame crosses to the device once, as bytes, and the detector's input
and every face crop are cut there.

On the host path a 640x480 frame becomes a float detector input and float face
crops that each travel to the GPU; here only the uint8 frame travels (a quarter
of the bytes of one float copy), and resize, normalise and the five-point crops
run as three small kernels. The arithmetic mirrors the host path (OpenCV's area
resize, bilinear warp with replicated border, BT.601 grey), so both give the same
faces and near-same probabilities (tests/test_gpu.py compares them).

torch is imported only when this is chosen; on a machine without it the host
path runs and the reason is recorded.
"""

from __future__ import annotations

import cv2
import numpy as np

from engines.errors import BackendError

INSTALL_HINT = "preprocessing on the device needs PyTorch: pip install torch (a CUDA build for a GPU)"


def _import_torch():
    try:
        import torch
        import torch.nn.functional as functional
    except ImportError as exc:
        raise BackendError(INSTALL_HINT) from exc
    return torch, functional


class DeviceImage:
    """One frame on the device, and the model inputs cut from it there."""

    def __init__(self, tensor, host: np.ndarray):
        self.tensor = tensor  # uint8, H x W x 3, BGR, on the device
        self.host = host  # the frame as captured, for whatever needs host pixels

    @property
    def shape(self) -> tuple[int, ...]:
        return self.host.shape

    def _planar(self):
        """1 x 3 x H x W float32 view of the frame (one conversion per frame, cached)."""
        if not hasattr(self, "_float"):
            self._float = self.tensor.permute(2, 0, 1).unsqueeze(0).float()
        return self._float

    def detector_input(self, width: int, height: int, mean: np.ndarray, swap_rb: bool):
        """1 x 3 x height x width, mean subtracted: the RetinaFace input."""
        torch, functional = _import_torch()
        x = self._planar()
        if (height, width) != tuple(x.shape[2:]):
            x = functional.interpolate(x, size=(height, width), mode="area")  # OpenCV's INTER_AREA
        if swap_rb:
            x = x.flip(1)
        x = x - torch.as_tensor(mean, dtype=torch.float32, device=x.device).view(1, 3, 1, 1)
        return x.contiguous()

    def face_crops(self, matrices: list[np.ndarray], size: int, gray: bool, scale: float, offset: float):
        """N x C x size x size: each face warped by its 2x3 alignment matrix (image -> crop, as OpenCV takes it),
        bilinear, border replicated, then scaled as the model's manifest says."""
        torch, functional = _import_torch()
        x = self._planar()
        h, w = x.shape[2], x.shape[3]
        inverse = np.stack([cv2.invertAffineTransform(np.asarray(m, dtype=np.float64)) for m in matrices])
        # every output pixel centre, mapped back to source pixels, then to grid_sample's [-1, 1]
        # (align_corners=False: pixel i spans [i, i+1) and its centre is i + 0.5 in those units)
        u, v = np.meshgrid(np.arange(size, dtype=np.float64), np.arange(size, dtype=np.float64))
        points = np.stack([u, v, np.ones_like(u)], axis=-1)  # S x S x 3
        source = np.einsum("sti,nji->nstj", points, inverse)  # N x S x S x 2 (x, y)
        source = (2 * source + 1) / np.array([w, h]) - 1
        grid = torch.as_tensor(source, dtype=torch.float32).to(x.device, non_blocking=True)
        crops = functional.grid_sample(
            x.expand(len(matrices), -1, -1, -1), grid, mode="bilinear", padding_mode="border", align_corners=False
        )
        crops = crops.round()  # OpenCV's crop is uint8: rounding keeps the two paths within a grey level
        if gray:  # BGR planes, BT.601 weights as cv2.COLOR_BGR2GRAY
            crops = (crops[:, 0:1] * 0.114 + crops[:, 1:2] * 0.587 + crops[:, 2:3] * 0.299).round()
        return (crops * scale + offset).contiguous()


class DeviceFrames:
    """Moves frames to `device` ("cuda", or "cpu" to run the same arithmetic where there is no GPU)."""

    def __init__(self, device: str = "cuda"):
        torch, _ = _import_torch()
        if device == "cuda" and not torch.cuda.is_available():
            raise BackendError("preprocessing on the GPU needs a CUDA build of PyTorch and a visible GPU")
        self.torch = torch
        self.device = torch.device(device)
        self._staging = None  # a page-locked buffer, so the copy to the GPU runs without an extra host copy

    def upload(self, image: np.ndarray) -> DeviceImage:
        source = self.torch.from_numpy(np.ascontiguousarray(image))
        if self.device.type == "cpu":
            return DeviceImage(source, image)
        if self._staging is None or self._staging.shape != source.shape:
            self._staging = self.torch.empty(source.shape, dtype=self.torch.uint8).pin_memory()
        self._staging.copy_(source)
        # synchronous on purpose: the staging buffer is reused by the next frame
        return DeviceImage(self._staging.to(self.device), image)

    def describe(self) -> dict:
        name = self.torch.cuda.get_device_name(self.device) if self.device.type == "cuda" else "cpu"
        return {"where": f"device ({self.device.type})", "device": name, "torch": self.torch.__version__}
