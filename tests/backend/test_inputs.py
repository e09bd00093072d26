"""Input loading: bad files fail with clear codes, odd formats decode to the right values."""

from __future__ import annotations

import math
import resource
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile, PngImagePlugin

from backend.errors import InputImageError
from backend.inputs import load_image, prepare_pair, prepare_single, resize_rgba
from backend.types import InputImage


def _noise(h: int, w: int, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).random((h, w, 3)) * 255).astype(np.uint8)


def _code(path, **kw) -> str:
    with pytest.raises(InputImageError) as info:
        load_image(path, **kw)
    assert info.value.message and info.value.hint
    return info.value.code


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _zero_png(path: Path, width: int, height: int) -> None:
    """A valid 8-bit grayscale PNG of zeros, tiny on disk whatever its size.

    The zlib stream repeats one full-flushed deflate segment (a full flush
    resets the dictionary, so segments can be concatenated); the Adler-32 of
    n zero bytes is (b << 16) | a with a = 1, b = n mod 65521 (RFC 1950).
    """
    row = width + 1  # filter byte + pixels
    rows_per_block = max(1, min(height, 4_000_000 // row))
    while height % rows_per_block:
        rows_per_block -= 1
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    segment = comp.compress(bytes(row * rows_per_block)) + comp.flush(zlib.Z_FULL_FLUSH)
    final = zlib.compressobj(9, zlib.DEFLATED, -15)
    tail = final.compress(b"") + final.flush(zlib.Z_FINISH)
    n = row * height
    adler = ((n % 65521) << 16) | 1
    body = b"\x78\xda" + segment * (height // rows_per_block) + tail + struct.pack(">I", adler)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", body)
                     + _png_chunk(b"IEND", b""))


# --- files that cannot be used -------------------------------------------------------

def test_missing_file(tmp_path):
    assert _code(tmp_path / "nope.png") == "input.missing"


def test_directory(tmp_path):
    assert _code(tmp_path) == "input.not_image"


def test_fifo_is_refused_before_opening(tmp_path):
    """Issue 9, item 6: opening a FIFO blocks until a writer appears; it must not be opened at all."""
    import os
    import threading

    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    codes = []
    worker = threading.Thread(target=lambda: codes.append(_code(fifo)), daemon=True)
    worker.start()
    worker.join(20)
    if worker.is_alive():  # unblock the reader so the test process can end
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    assert not worker.is_alive(), "load_image blocked on the FIFO"
    assert codes == ["input.not_image"]


def test_device_is_refused_with_its_kind():
    with pytest.raises(InputImageError, match="a device"):
        load_image("/dev/zero")


def test_symlink_loop_is_reported_as_a_loop(tmp_path):
    (tmp_path / "a.png").symlink_to(tmp_path / "b.png")
    (tmp_path / "b.png").symlink_to(tmp_path / "a.png")
    with pytest.raises(InputImageError, match="symbolic link loop") as info:
        load_image(tmp_path / "a.png")
    assert info.value.code == "input.unreadable"


def test_dangling_symlink_names_its_target(tmp_path):
    (tmp_path / "a.png").symlink_to(tmp_path / "gone.png")
    with pytest.raises(InputImageError, match="does not exist") as info:
        load_image(tmp_path / "a.png")
    assert info.value.code == "input.missing" and "gone.png" in info.value.message


def test_not_an_image(tmp_path):
    p = tmp_path / "notes.png"
    p.write_text("this is not a PNG\n" * 20)
    assert _code(p) == "input.not_image"


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_file_is_corrupt(tmp_path, fmt):
    p = tmp_path / f"cut.{fmt.lower()}"
    Image.fromarray(_noise(64, 64)).save(p, fmt)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    assert _code(p) == "input.corrupt"
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_zero_byte_file(tmp_path):
    p = tmp_path / "empty.png"
    p.write_bytes(b"")
    assert _code(p) == "input.too_small"


def test_one_pixel_image(tmp_path):
    p = tmp_path / "dot.png"
    Image.new("RGB", (1, 1), (255, 0, 0)).save(p)
    assert _code(p) == "input.too_small"


def test_huge_png_refused_from_header_without_decoding(tmp_path, monkeypatch):
    small = tmp_path / "small.png"
    _zero_png(small, 200, 200)  # the crafting helper makes files Pillow decodes
    assert load_image(small).rgba[..., :3].max() == 0.0

    huge = tmp_path / "huge.png"
    _zero_png(huge, 20_000, 20_000)
    assert huge.stat().st_size < 2_000_000
    decoded = []
    real_load = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: decoded.append(self.size) or real_load(self))
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    with pytest.raises(InputImageError) as info:
        load_image(huge)
    rss_growth_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    assert info.value.code == "input.too_large"
    assert "20000x20000" in info.value.message
    assert f"at most {math.isqrt(40_000_000)} px" in info.value.hint  # the side that fits the default budget
    assert decoded == []  # refused from the header: no pixel was decoded
    assert rss_growth_mib < 100  # a decoded 20000^2 raster would need >= 400 MiB


def test_large_jpeg_decoded_reduced(tmp_path, monkeypatch):
    """A JPEG over the pixel budget (and over Pillow's bomb limit) decodes reduced by the DCT."""
    h, w = 1200, 1800
    ramp = np.repeat(np.linspace(0, 255, w, dtype=np.float32)[None, :], h, 0).astype(np.uint8)
    p = tmp_path / "big.jpg"
    Image.fromarray(np.stack([ramp, ramp, ramp], -1)).save(p, quality=90)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 400_000)  # so Pillow alone would refuse it at open
    decoded = []
    real_load = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: decoded.append(self.size) or real_load(self))

    im = load_image(p, max_pixels=300_000, max_side=1000)
    assert im.original_size == (w, h)
    assert im.size[0] * im.size[1] <= 300_000 and max(im.size) <= 1000
    assert decoded and all(a * b <= 300_000 for a, b in decoded)  # never the full raster
    assert abs(im.size[0] / im.size[1] - w / h) < 0.01
    row = im.rgba[im.size[1] // 2, :, 0]
    assert row[0] < 0.05 and row[-1] > 0.95 and np.all(np.diff(row) > -0.05)  # content is the ramp
    assert Image.MAX_IMAGE_PIXELS == 400_000  # the temporary relaxation was undone


def test_oversized_text_chunk_loads_and_limit_is_restored(tmp_path):
    info = PngImagePlugin.PngInfo()
    info.add_text("workflow", "x" * (3 * PngImagePlugin.MAX_TEXT_CHUNK), zip=True)
    p = tmp_path / "meta.png"
    Image.new("RGB", (32, 32), (10, 200, 30)).save(p, pnginfo=info)
    before = (PngImagePlugin.MAX_TEXT_CHUNK, PngImagePlugin.MAX_TEXT_MEMORY)
    with pytest.raises(ValueError):  # Pillow alone refuses it
        Image.open(p).load()
    im = load_image(p)
    assert np.allclose(im.rgba[0, 0], [10 / 255, 200 / 255, 30 / 255, 1.0], atol=1e-6)
    assert (PngImagePlugin.MAX_TEXT_CHUNK, PngImagePlugin.MAX_TEXT_MEMORY) == before


# --- formats decode to the right values -------------------------------------------------

def test_16bit_gray_png_uses_full_range(tmp_path):
    import cv2
    p = tmp_path / "g16.png"
    g = np.full((20, 24), 40000, np.uint16)
    g[:, :12] = 65535
    cv2.imwrite(str(p), g)
    im = load_image(p)
    assert im.rgba.dtype == np.float32 and im.rgba.shape == (20, 24, 4)
    assert np.allclose(im.rgba[0, 20, :3], 40000 / 65535, atol=1e-5)
    assert np.allclose(im.rgba[0, 0, :3], 1.0)
    assert not im.has_alpha


def test_32bit_integer_tiff_uses_its_full_range(tmp_path):
    """Issue 9, item 7: a 32-bit integer TIFF was divided by 65535 and came out all white."""
    p = tmp_path / "i32.tif"
    g = np.zeros((20, 24), np.int32)
    g[:, 12:] = 2**30  # half of the signed 32-bit range (TIFF SampleFormat 2)
    g[:, 18:] = 2**31 - 1
    Image.fromarray(g).save(p)
    assert Image.open(p).mode == "I"
    im = load_image(p)
    assert np.allclose(im.rgba[0, 0, :3], 0.0)
    assert np.allclose(im.rgba[0, 12, :3], 2**30 / (2**31 - 1), atol=1e-5)
    assert np.allclose(im.rgba[0, 20, :3], 1.0)


def test_16bit_rgba_png(tmp_path):
    import cv2
    p = tmp_path / "c16.png"
    bgra = np.zeros((20, 20, 4), np.uint16)
    bgra[...] = (60000, 30000, 10000, 32768)  # OpenCV order: B, G, R, A
    cv2.imwrite(str(p), bgra)
    im = load_image(p)
    assert np.allclose(im.rgba[5, 5], [10000 / 65535, 30000 / 65535, 60000 / 65535, 32768 / 65535], atol=1 / 255)
    assert im.has_alpha


def test_palette_with_transparency(tmp_path):
    p = tmp_path / "pal.png"
    im = Image.new("P", (32, 32), 1)
    im.putpalette([0, 0, 0, 255, 0, 0, 0, 0, 255] + [0] * (256 * 3 - 9))
    im.paste(2, (0, 0, 16, 32))
    im.paste(0, (0, 0, 8, 8))
    im.save(p, transparency=0)
    out = load_image(p)
    assert out.has_alpha
    assert np.allclose(out.rgba[20, 20], [1, 0, 0, 1]) and np.allclose(out.rgba[20, 10], [0, 0, 1, 1])
    assert out.rgba[2, 2, 3] == 0.0


def test_palette_without_transparency(tmp_path):
    p = tmp_path / "pal.gif"
    Image.new("RGB", (32, 32), (0, 128, 255)).convert("P", palette=Image.Palette.ADAPTIVE).save(p)
    out = load_image(p)
    assert not out.has_alpha
    assert np.allclose(out.rgba[0, 0], [0, 128 / 255, 1, 1], atol=2 / 255)


def test_cmyk_jpeg(tmp_path):
    p = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (32, 32), (0, 255, 255, 0)).save(p, quality=95)  # pure red in CMYK
    out = load_image(p)
    assert np.allclose(out.rgba[16, 16, :3], [1, 0, 0], atol=0.05)


@pytest.mark.parametrize("mode,value,alpha", [("L", 128, None), ("LA", (128, 64), 64 / 255), ("1", 1, None)])
def test_gray_modes(tmp_path, mode, value, alpha):
    p = tmp_path / f"g_{mode}.png"
    Image.new(mode, (32, 32), value).save(p)
    out = load_image(p)
    gray = {"L": 128 / 255, "LA": 128 / 255, "1": 1.0}[mode]
    assert np.allclose(out.rgba[3, 3, :3], gray, atol=1e-6)
    assert out.has_alpha is (alpha is not None)
    assert np.isclose(out.rgba[3, 3, 3], 1.0 if alpha is None else alpha, atol=1e-6)


def test_rgba_alpha_meaningful_only_when_not_opaque(tmp_path):
    opaque = tmp_path / "opaque.png"
    Image.new("RGBA", (32, 32), (1, 2, 3, 255)).save(opaque)
    assert not load_image(opaque).has_alpha
    cut = tmp_path / "cut.png"
    a = np.zeros((32, 32, 4), np.uint8)
    a[8:24, 8:24] = (200, 100, 50, 255)
    Image.fromarray(a).save(cut)
    out = load_image(cut)
    assert out.has_alpha and out.rgba[0, 0, 3] == 0.0 and out.rgba[16, 16, 3] == 1.0


def test_exif_orientation_applied(tmp_path):
    p = tmp_path / "rot.jpg"
    a = np.zeros((20, 40, 3), np.uint8)
    a[:, :20] = (255, 0, 0)
    a[:, 20:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = 6  # display rotated 90 degrees clockwise
    Image.fromarray(a).save(p, quality=95, exif=exif)
    out = load_image(p)
    assert out.size == (20, 40) and out.original_size == (20, 40)
    assert out.rgba[5, 10, 0] > 0.9 and out.rgba[35, 10, 2] > 0.9  # stored left (red) is now on top


def test_animated_gif_gives_first_frame(tmp_path):
    p = tmp_path / "anim.gif"
    frames = [Image.new("RGB", (32, 32), c) for c in ((255, 0, 0), (0, 0, 255))]
    frames[0].save(p, save_all=True, append_images=frames[1:], duration=100)
    out = load_image(p)
    assert np.allclose(out.rgba[10, 10, :3], [1, 0, 0], atol=2 / 255)


def test_side_above_max_side_is_downscaled(tmp_path):
    p = tmp_path / "wide.png"
    Image.fromarray(_noise(40, 300)).save(p)
    out = load_image(p, max_side=100)
    assert out.size == (100, 13) and out.original_size == (300, 40)


# --- working resolution -----------------------------------------------------------------

def _input(w: int, h: int, name: str = "x.png", value: float = 0.5) -> InputImage:
    rgba = np.full((h, w, 4), value, np.float32)
    rgba[..., 3] = 1.0
    return InputImage(path=Path(name), rgba=rgba, has_alpha=False, original_size=(w, h))


def test_prepare_pair_same_size_and_identical_images():
    a = _input(200, 100)
    s, e = prepare_pair(a, a, 64)
    assert s.shape == e.shape == (32, 64, 4) and s.dtype == np.float32
    assert np.array_equal(s, e)


def test_prepare_pair_resizes_end_with_same_aspect():
    s, e = prepare_pair(_input(64, 48), _input(130, 97), 512)  # aspect 1.333 vs 1.340
    assert s.shape == e.shape == (48, 64, 4)


def test_prepare_pair_refuses_other_aspect():
    with pytest.raises(InputImageError) as info:
        prepare_pair(_input(64, 48, "a.png"), _input(64, 64, "b.png"), 512)
    err = info.value
    assert err.code == "input.mismatch"
    assert "64x48" in err.message and "64x64" in err.message
    assert "crop" in err.hint.lower() and "pad" in err.hint.lower()


def test_prepare_single_never_enlarges():
    assert prepare_single(_input(40, 30), 512).shape == (30, 40, 4)


def test_resize_rgba_premultiplied_keeps_edge_colour():
    rgba = np.zeros((8, 8, 4), np.float32)  # transparent black ...
    rgba[:, 3:, :] = 1.0  # ... beside opaque white; column 3 straddles a 2x2 block edge
    out = resize_rgba(rgba, (4, 4))
    assert np.isclose(out[0, 1, 3], 0.5)
    assert np.allclose(out[0, 1, :3], 1.0)  # not darkened to grey by the transparent black
