#!/usr/bin/python3
"""Regenerate tests/fixtures/datasets/ for tests/test_datasets.c.

Independent references: Pillow (decoding, convert, resize), torchvision 0.14
transforms (Resize, CenterCrop, ToTensor, Normalize), NumPy, Python's zipfile,
csv and gzip.  Run with Debian's python3:  /usr/bin/python3 tests/gen_datasets_fixtures.py

Outputs (all small; < 300 KB in total):
  images/*.png|jpg        decoding fixtures; decode_expected.txt records, per file,
                          width height channels sha256(pixels) and the first pixel
                          as Pillow decodes it (16-bit PNGs: the high byte)
  bad/                    truncated JPEG and PNG, a PNG with a corrupt IDAT, a text file named .png
  dirset/                 a folder stimulus set (with files that must be ignored)
  csvset/stimuli.csv      BrainIO-style CSV (BOM, CRLF, quoted comma, doubled quote, newline in a field)
  zipset.zip, dupes.zip   ZIP stimulus sets (with __MACOSX/, dotfiles, folders, a text file)
  idx/                    tiny IDX pair (plain), a gzipped pair, a truncated file
  preprocess_ref.h5       torchvision/PIL reference inputs, float32, one dataset per case
It also prints the measured differences of the alternatives (float resize
without 8-bit rounding, torchvision's tensor antialias path) quoted in
docs/preprocessing.md.
"""
import csv
import gzip
import hashlib
import io
import os
import shutil
import struct
import sys
import zipfile
import zlib

import h5py
import numpy as np
import torch
import torchvision
import torchvision.transforms as T
import torchvision.transforms.functional as TF
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures", "datasets")
REPO = os.path.dirname(HERE)
COWLEY_ZIP = os.path.join(REPO, "datasets", "cowley2023-v4-210325", "images_210325.zip")

rng = np.random.RandomState(20240611)


def pattern(h, w, c, noise=40):
    """Smooth gradients plus noise: resizing has something to average."""
    y, x = np.mgrid[0:h, 0:w]
    planes = []
    for k in range(c):
        base = 127 + 100 * np.sin(x / (2.0 + k) + y / (3.0 + k)) + 20 * np.cos(y * (k + 1) / 4.0)
        planes.append(base + rng.uniform(-noise, noise, size=(h, w)))
    a = np.clip(np.stack(planes, axis=-1), 0, 255).round().astype(np.uint8)
    return a if c > 1 else a[:, :, 0]


def write_png_raw(path, arr, bit_depth, color_type):
    """Minimal PNG writer, for what Pillow cannot write (16-bit RGB)."""
    h, w = arr.shape[:2]
    data = arr.astype(">u2") if bit_depth == 16 else arr.astype(np.uint8)
    raw = b"".join(b"\x00" + data[r].tobytes() for r in range(h))

    def chunk(kind, payload):
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(png)


def pil_pixels(path):
    """What neurocmp's decoder must produce: 8-bit L or RGB, alpha dropped."""
    im = Image.open(path)
    im.load()
    if im.mode in ("L", "RGB"):
        return np.asarray(im)
    if im.mode in ("1", "LA"):
        return np.asarray(im.convert("L"))
    return np.asarray(im.convert("RGB"))  # P, RGBA, CMYK


def expected_line(rel, pixels):
    p = np.ascontiguousarray(pixels)
    h, w = p.shape[:2]
    c = 1 if p.ndim == 2 else p.shape[2]
    first = ",".join(str(int(v)) for v in p.reshape(-1)[:c])
    return f"{rel} {w} {h} {c} {hashlib.sha256(p.tobytes()).hexdigest()} {first}\n"


def write_images():
    d = os.path.join(OUT, "images")
    os.makedirs(d)
    lines = []
    Image.fromarray(pattern(9, 13, 1)).save(os.path.join(d, "grey.png"))
    Image.fromarray(pattern(11, 17, 3)).save(os.path.join(d, "rgb.png"))
    rgba = np.dstack([pattern(7, 10, 3), rng.randint(0, 256, size=(7, 10)).astype(np.uint8)])
    Image.fromarray(rgba, "RGBA").save(os.path.join(d, "rgba.png"))
    la = np.dstack([pattern(6, 5, 1), rng.randint(0, 256, size=(6, 5)).astype(np.uint8)])
    Image.fromarray(la, "LA").save(os.path.join(d, "grey_alpha.png"))
    pal = Image.fromarray(rng.randint(0, 16, size=(8, 12)).astype(np.uint8), "P")
    pal.putpalette(list(rng.randint(0, 256, size=16 * 3).astype(int)))
    pal.save(os.path.join(d, "palette4.png"), bits=4)
    Image.fromarray(rng.randint(0, 2, size=(5, 9)).astype(bool)).convert("1").save(os.path.join(d, "mono.png"))
    g16 = rng.randint(0, 65536, size=(6, 11)).astype(np.uint16)
    write_png_raw(os.path.join(d, "grey16.png"), g16, 16, 0)
    rgb16 = rng.randint(0, 65536, size=(5, 9, 3)).astype(np.uint16)
    write_png_raw(os.path.join(d, "rgb16.png"), rgb16, 16, 2)
    Image.fromarray(pattern(21, 33, 3)).save(os.path.join(d, "rgb.jpg"), quality=90)
    Image.fromarray(pattern(14, 19, 1)).save(os.path.join(d, "grey.jpg"), quality=85)
    Image.fromarray(pattern(24, 20, 3)).save(os.path.join(d, "progressive.jpg"), quality=80, progressive=True)
    Image.fromarray(pattern(8, 10, 4), "CMYK").save(os.path.join(d, "cmyk.jpg"), quality=95)
    Image.fromarray(pattern(120, 160, 3, noise=25)).save(os.path.join(d, "large.jpg"), quality=80)
    for name in sorted(os.listdir(d)):
        path = os.path.join(d, name)
        if name == "grey16.png":
            pixels = (g16 >> 8).astype(np.uint8)  # high byte (Pillow would clip I;16 to 255 instead)
        elif name == "rgb16.png":
            pixels = (rgb16 >> 8).astype(np.uint8)  # high byte, as Pillow's RGB;16B
        else:
            pixels = pil_pixels(path)
        lines.append(expected_line("images/" + name, pixels))
    # A real stimulus, to pin libjpeg-turbo decoding to Pillow's on the shipped set.
    with zipfile.ZipFile(COWLEY_ZIP) as z:
        cow = np.asarray(Image.open(io.BytesIO(z.read("image0001.jpg"))).convert("RGB"))
    lines.append(expected_line("cowley:image0001.jpg", cow))
    with open(os.path.join(OUT, "decode_expected.txt"), "w") as f:
        f.write("# path width height channels sha256(pixels as Pillow decodes them) first-pixel\n")
        f.writelines(lines)


def write_bad():
    d = os.path.join(OUT, "bad")
    os.makedirs(d)
    jpg = open(os.path.join(OUT, "images", "rgb.jpg"), "rb").read()
    open(os.path.join(d, "truncated.jpg"), "wb").write(jpg[: len(jpg) * 6 // 10])
    png = bytearray(open(os.path.join(OUT, "images", "rgb.png"), "rb").read())
    open(os.path.join(d, "truncated.png"), "wb").write(bytes(png[: len(png) * 6 // 10]))
    idat = png.find(b"IDAT")
    png[idat + 4 + 20] ^= 0x55  # inside the compressed data: the CRC no longer matches
    open(os.path.join(d, "corrupt.png"), "wb").write(bytes(png))
    open(os.path.join(d, "not_an_image.png"), "w").write("this is text, not a PNG\n")


def write_dirset():
    d = os.path.join(OUT, "dirset")
    os.makedirs(os.path.join(d, "sub"))
    Image.fromarray(pattern(6, 7, 3)).save(os.path.join(d, "b.png"))
    Image.fromarray(pattern(8, 6, 3)).save(os.path.join(d, "a.jpg"))
    Image.fromarray(pattern(5, 5, 1)).save(os.path.join(d, "C.JPEG"), format="JPEG")
    Image.fromarray(pattern(5, 5, 1)).save(os.path.join(d, ".hidden.png"))
    Image.fromarray(pattern(5, 5, 1)).save(os.path.join(d, "sub", "x.png"))
    open(os.path.join(d, "notes.txt"), "w").write("not a stimulus\n")


def write_csvset():
    d = os.path.join(OUT, "csvset")
    os.makedirs(os.path.join(d, "img", "sub"))
    Image.fromarray(pattern(6, 6, 3)).save(os.path.join(d, "img", "one.png"))
    Image.fromarray(pattern(7, 5, 3)).save(os.path.join(d, "img", "two.jpg"))
    Image.fromarray(pattern(4, 9, 1)).save(os.path.join(d, "img", "sub", "three.png"))
    rows = [
        ["stimulus_id", "filename", "object_name", "description"],
        ["s1", "img/one.png", "car", "a red, shiny car"],
        ["s2", "img/two.jpg", "face", 'the "best" face'],
        ["s3", "img/sub/three.png", "car", "two\nlines"],
    ]
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows[:3])
    buf.write("\r\n")  # a blank line between records is skipped
    csv.writer(buf, lineterminator="\r\n").writerows(rows[3:])
    with open(os.path.join(d, "stimuli.csv"), "wb") as f:
        f.write(b"\xef\xbb\xbf" + buf.getvalue().encode("utf-8"))
    # Check our own file with Python's csv, the independent reader.
    with open(os.path.join(d, "stimuli.csv"), newline="", encoding="utf-8-sig") as f:
        assert list(csv.reader(f)) == rows[:3] + [[]] + rows[3:]


def zip_put(z, name, data, compress=zipfile.ZIP_DEFLATED):
    """Fixed timestamps, so regenerating gives the same bytes."""
    info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
    info.compress_type = compress
    z.writestr(info, data)


def write_zips():
    buf = io.BytesIO()
    Image.fromarray(pattern(6, 6, 3)).save(buf, format="PNG")
    png = buf.getvalue()
    buf = io.BytesIO()
    Image.fromarray(pattern(9, 7, 3)).save(buf, format="JPEG")
    jpg = buf.getvalue()
    with zipfile.ZipFile(os.path.join(OUT, "zipset.zip"), "w", zipfile.ZIP_DEFLATED) as z:
        zip_put(z, "set/", b"")
        zip_put(z, "set/b.png", png)
        zip_put(z, "set/c.jpeg", jpg)
        zip_put(z, "set/a.jpg", jpg)
        zip_put(z, "__MACOSX/set/._a.jpg", b"resource fork")
        zip_put(z, "set/.DS_Store", b"finder")
        zip_put(z, "set/readme.txt", b"not a stimulus")
    with zipfile.ZipFile(os.path.join(OUT, "dupes.zip"), "w") as z:
        zip_put(z, "x/a.png", png)
        zip_put(z, "y/a.png", png)


def idx_bytes(magic, dims, data):
    return struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dims) + data.tobytes()


def write_idx():
    d = os.path.join(OUT, "idx")
    os.makedirs(os.path.join(d, "gz"))
    os.makedirs(os.path.join(d, "bad"))
    n, rows, cols = 5, 4, 3
    i, r, c = np.meshgrid(np.arange(n), np.arange(rows), np.arange(cols), indexing="ij")
    images = ((i * 37 + r * 11 + c * 3) % 256).astype(np.uint8)
    labels = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    img = idx_bytes(0x803, (n, rows, cols), images)
    lab = idx_bytes(0x801, (n,), labels)
    open(os.path.join(d, "tiny-images-idx3-ubyte"), "wb").write(img)
    open(os.path.join(d, "tiny-labels-idx1-ubyte"), "wb").write(lab)
    with gzip.GzipFile(os.path.join(d, "gz", "tiny-images-idx3-ubyte.gz"), "wb", mtime=0) as f:
        f.write(img)
    with gzip.GzipFile(os.path.join(d, "gz", "tiny-labels-idx1-ubyte.gz"), "wb", mtime=0) as f:
        f.write(lab)
    open(os.path.join(d, "bad", "short-images-idx3-ubyte"), "wb").write(img[: 16 + 4 * rows * cols + 5])


# ---- preprocessing reference ---------------------------------------------------------

IMAGENET_MEAN, IMAGENET_STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]

# (name, image, channels, size, center_crop, scaling)
CASES = [
    ("rgb_png_8_stretch_imagenet", "images/rgb.png", 3, 8, False, "imagenet"),
    ("rgb_png_24_stretch_minus1", "images/rgb.png", 3, 24, False, "minus1_1"),
    ("rgb_png_10_crop_imagenet", "images/rgb.png", 3, 10, True, "imagenet"),  # crop offset round(2.5) = 2
    ("rgb_png_11_crop_imagenet", "images/rgb.png", 3, 11, True, "imagenet"),  # no resize, crop only
    ("grey_png_7_crop_minus1", "images/grey.png", 1, 7, True, "minus1_1"),
    ("grey_png_16_stretch_rgb_imagenet", "images/grey.png", 3, 16, False, "imagenet"),
    ("rgb_jpg_12_crop_grey_imagenet", "images/rgb.jpg", 1, 12, True, "imagenet"),
    ("large_jpg_32_crop_imagenet", "images/large.jpg", 3, 32, True, "imagenet"),
    ("large_jpg_48_stretch_minus1", "images/large.jpg", 3, 48, False, "minus1_1"),
    ("large_jpg_28_stretch_grey_minus1", "images/large.jpg", 1, 28, False, "minus1_1"),
    ("cowley_24_stretch_imagenet", "cowley:image0001.jpg", 3, 24, False, "imagenet"),
    ("cowley_56_crop_imagenet", "cowley:image0001.jpg", 3, 56, True, "imagenet"),
    ("cowley_28_crop_grey_minus1", "cowley:image0001.jpg", 1, 28, True, "minus1_1"),
    ("cowley_120_stretch_grey_minus1", "cowley:image0001.jpg", 1, 120, False, "minus1_1"),  # upscaling
]


def open_pil(ref):
    if ref.startswith("cowley:"):
        with zipfile.ZipFile(COWLEY_ZIP) as z:
            im = Image.open(io.BytesIO(z.read(ref.split(":", 1)[1])))
            im.load()
            return im
    im = Image.open(os.path.join(OUT, ref))
    im.load()
    return im


def normalize(channels, scaling):
    if scaling == "minus1_1":
        return T.Normalize([0.5] * channels, [0.5] * channels)
    if channels == 3:
        return T.Normalize(IMAGENET_MEAN, IMAGENET_STD)
    return T.Normalize([sum(IMAGENET_MEAN) / 3], [sum(IMAGENET_STD) / 3])


def geometry(size, crop):
    return [T.Resize(size), T.CenterCrop(size)] if crop else [T.Resize((size, size))]


def pil_coefficients(in_size, out_size):
    """Pillow's bilinear coefficients (Resample.c precompute_coeffs) as a dense matrix, in float64."""
    scale = in_size / out_size
    fs = max(scale, 1.0)
    m = np.zeros((out_size, in_size))
    for xx in range(out_size):
        center = (xx + 0.5) * scale
        xmin = max(int(center - fs + 0.5), 0)
        xmax = min(int(center + fs + 0.5), in_size)
        w = np.array([max(0.0, 1 - abs((x + xmin - center + 0.5) / fs)) for x in range(xmax - xmin)])
        m[xx, xmin:xmax] = w / w.sum()
    return m


def float_pipeline(im, channels, size, crop, scaling):
    """The same filter without Pillow's 8-bit rounding after each pass."""
    a = np.asarray(im, dtype=np.float64)
    if a.ndim == 2:
        a = a[:, :, None]
    h, w = a.shape[:2]
    if crop:
        short, long = (w, h) if w <= h else (h, w)
        nl = int(size * long / short)
        rw, rh = (size, nl) if w <= h else (nl, size)
    else:
        rw = rh = size
    r = np.einsum("yh,hwc,xw->yxc", pil_coefficients(h, rh), a, pil_coefficients(w, rw))
    if crop:
        top, left = int(round((rh - size) / 2.0)), int(round((rw - size) / 2.0))
        r = r[top : top + size, left : left + size]
    t = torch.from_numpy(r.transpose(2, 0, 1).copy()) / 255.0
    if t.shape[0] != channels:
        t = t.expand(channels, -1, -1)
    return normalize(channels, scaling)(t.float()).numpy()


def tensor_pipeline(im, channels, size, crop, scaling):
    """torchvision's tensor path: float resize with antialias=True (a different kernel support rule)."""
    t = TF.pil_to_tensor(im).float()
    if crop:
        t = TF.resize(t, size, interpolation=T.InterpolationMode.BILINEAR, antialias=True)
        t = TF.center_crop(t, size)
    else:
        t = TF.resize(t, [size, size], interpolation=T.InterpolationMode.BILINEAR, antialias=True)
    return normalize(channels, scaling)(t / 255.0).numpy()


def write_preprocess_reference():
    stats = {"float": 0.0, "float_255": 0.0, "tensor": 0.0, "tensor_255": 0.0}
    counts = {"float": [0, 0, 0.0], "tensor": [0, 0, 0.0]}  # values > half a step off, values, sum of steps
    with h5py.File(os.path.join(OUT, "preprocess_ref.h5"), "w") as f:
        f.attrs["generator"] = "tests/gen_datasets_fixtures.py"
        f.attrs["torchvision"] = str(torchvision.__version__)
        f.attrs["torch"] = str(torch.__version__)
        f.attrs["pillow"] = Image.__version__
        f.attrs["pipeline"] = "PIL open -> convert(L|RGB) -> Resize -> [CenterCrop] -> ToTensor -> Normalize"
        for name, ref, channels, size, crop, scaling in CASES:
            im = open_pil(ref).convert("RGB" if channels == 3 else "L")
            tf = T.Compose(geometry(size, crop) + [T.ToTensor(), normalize(channels, scaling)])
            out = tf(im).numpy().astype(np.float32)
            assert out.shape == (channels, size, size), (name, out.shape)
            ds = f.create_dataset(name, data=out, compression="gzip", compression_opts=9, shuffle=True)
            ds.attrs["image"] = ref
            ds.attrs["channels"] = channels
            ds.attrs["size"] = size
            ds.attrs["center_crop"] = int(crop)
            ds.attrs["scaling"] = scaling
            # One normalised unit is 1/(255*std) per 8-bit step: report both.
            per_step = 1 / 255 / (0.5 if scaling == "minus1_1" else min(IMAGENET_STD))
            for key, alt in (("float", float_pipeline), ("tensor", tensor_pipeline)):
                diff = np.abs(alt(im, channels, size, crop, scaling) - out)
                d = float(diff.max())
                stats[key] = max(stats[key], d)
                stats[key + "_255"] = max(stats[key + "_255"], d / per_step)
                counts[key][0] += int((diff / per_step > 0.5).sum())
                counts[key][1] += diff.size
                counts[key][2] += float((diff / per_step).sum())
    for key, (off, n, total) in counts.items():
        stats[key + "_off"] = off / n
        stats[key + "_mean_255"] = total / n
    return stats


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    write_images()
    write_bad()
    write_dirset()
    write_csvset()
    write_zips()
    write_idx()
    stats = write_preprocess_reference()
    total = sum(os.path.getsize(os.path.join(dp, fn)) for dp, _, fns in os.walk(OUT) for fn in fns)
    print(f"wrote {OUT} ({total} bytes)")
    print("max |difference| vs the PIL/torchvision reference over all cases (normalised units; ~8-bit steps):")
    for key, label in (("float", "float resize without 8-bit rounding"), ("tensor", "torchvision tensor antialias path")):
        print(f"  {label}: max {stats[key]:.4g} (~{stats[key + '_255']:.3g} steps), mean {stats[key + '_mean_255']:.3g}"
              f" steps, {100 * stats[key + '_off']:.1f}% of values more than half a step off")
    return 0


if __name__ == "__main__":
    sys.exit(main())
