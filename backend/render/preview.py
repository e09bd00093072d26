"""Side-by-side preview video: [start image | rendered asset over time | end image].

Written as H.264 MP4 (yuv420p, even dimensions, ``imageio`` with the
``imageio-ffmpeg`` plugin), or as an animated GIF (Pillow) when no ffmpeg
binary is available.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

_LABEL_BAND = 22  # pixels above each panel for its label
_GAP = 4


def _to_uint8(image: np.ndarray) -> np.ndarray:
    a = np.asarray(image)
    if a.dtype != np.uint8:
        a = np.clip(np.round(a.astype(np.float32) * 255.0), 0, 255).astype(np.uint8)
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    if a.shape[2] == 4:
        # Composite RGBA over white, like the rendered panel's background.
        rgb = a[..., :3].astype(np.float32)
        alpha = a[..., 3:4].astype(np.float32) / 255.0
        a = np.clip(rgb * alpha + 255.0 * (1.0 - alpha), 0, 255).astype(np.uint8)
    return a[..., :3]


def _fit_height(image: np.ndarray, height: int) -> np.ndarray:
    h, w = image.shape[:2]
    if h == height:
        return image
    width = max(1, round(w * height / h))
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if h > height else cv2.INTER_LINEAR)


def _label(panel: np.ndarray, text: str) -> np.ndarray:
    band = np.full((_LABEL_BAND, panel.shape[1], 3), 255, np.uint8)
    scale = 0.45
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    x = max(2, (panel.shape[1] - tw) // 2)
    cv2.putText(band, text, (x, (_LABEL_BAND + th) // 2), cv2.FONT_HERSHEY_SIMPLEX, scale, (40, 40, 40), 1, cv2.LINE_AA)
    return np.concatenate([band, panel], axis=0)


def compose_frames(start_rgb: np.ndarray, end_rgb: np.ndarray, rendered: np.ndarray) -> np.ndarray:
    """The preview's frames: uint8 [T, H', W', 3] with even H' and W'.

    Args:
        start_rgb, end_rgb: [H, W, 3|4] images, uint8 or float 0..1 (RGBA is
            composited over white).
        rendered: uint8 [T, H, W, 3] the asset rendered from the input view.
    """
    rendered = np.asarray(rendered)
    if rendered.ndim != 4 or rendered.shape[0] < 1:
        raise ValueError(f"rendered must be [T, H, W, 3], got {rendered.shape}")
    height = rendered.shape[1]
    start = _label(_fit_height(_to_uint8(start_rgb), height), "start")
    end = _label(_fit_height(_to_uint8(end_rgb), height), "end")
    gap = np.full((height + _LABEL_BAND, _GAP, 3), 255, np.uint8)
    frames = []
    for t in range(rendered.shape[0]):
        mid = _label(_to_uint8(rendered[t]), f"3D  {t + 1}/{rendered.shape[0]}")
        frames.append(np.concatenate([start, gap, mid, gap, end], axis=1))
    out = np.stack(frames)
    h, w = out.shape[1:3]
    # yuv420p needs even sizes: pad with white.
    return np.pad(out, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), constant_values=255)


def _ffmpeg_available() -> bool:
    try:
        import imageio_ffmpeg

        return bool(imageio_ffmpeg.get_ffmpeg_exe())
    except Exception:  # noqa: BLE001 - any failure means "no ffmpeg"
        return False


def write_preview(path: Path, start_rgb: np.ndarray, end_rgb: np.ndarray, rendered: np.ndarray, fps: float,
                  check=None) -> Path:
    """Write the side-by-side preview video.

    Args:
        path: where to write; its suffix becomes ``.mp4`` (or ``.gif`` without
            ffmpeg). The parent directory must exist.
        start_rgb, end_rgb: the two input images [H, W, 3|4], uint8 or float 0..1.
        rendered: uint8 [T, H, W, 3] the asset rendered from the input view.
        fps: frames per second (> 0).
        check: optional callable run before each frame is encoded (a cancel
            check); what it raises propagates.

    Returns:
        The path actually written.

    Raises:
        ValueError: empty ``rendered`` or non-positive ``fps``.
        OSError: the file cannot be written.
    """
    if not fps or fps <= 0:
        raise ValueError(f"fps must be positive, got {fps!r}")
    frames = compose_frames(start_rgb, end_rgb, rendered)
    path = Path(path)
    if _ffmpeg_available():
        import imageio.v2 as iio

        out = path.with_suffix(".mp4")
        with iio.get_writer(out, format="FFMPEG", fps=float(fps), codec="libx264", pixelformat="yuv420p",
                            quality=7, macro_block_size=2, ffmpeg_log_level="error") as writer:
            for frame in frames:
                if check is not None:
                    check()
                writer.append_data(frame)
        return out
    from PIL import Image

    out = path.with_suffix(".gif")
    images = [Image.fromarray(f) for f in frames]
    images[0].save(out, save_all=True, append_images=images[1:], duration=max(20, int(round(1000.0 / fps))), loop=0)
    return out
