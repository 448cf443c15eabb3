"""First-page thumbnails of PDFs and images, drawn in a limited child process.

Pure module (no Django). The worker runs ``python -I documents/thumbnails.py`` (see :func:`run`)
with RLIMIT_CPU/AS/CORE and a wall-clock timeout, because pdfium and the image decoders
parse files people uploaded: a hostile file may crash or spin the child, never the worker.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import subprocess
import sys
import warnings
from pathlib import Path

# Bounded output: at most WIDTH px wide, a page at most 4:1 tall, WebP (small, every browser).
WIDTH = 320
MAX_HEIGHT = WIDTH * 4
QUALITY = 80
# Decoding a larger image is refused (a 20 kB PNG can declare 50,000 x 50,000 pixels).
MAX_IMAGE_PIXELS = 64_000_000


class ThumbnailError(Exception):
    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


def draw(src: str, kind: str, out: str, width: int = WIDTH) -> tuple[int, int]:
    """Draw the first page of a PDF (kind "pdf") or an image ("image") into ``out`` (WebP)."""
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
    if kind == "pdf":
        import pypdfium2 as pdfium

        document = pdfium.PdfDocument(src)
        try:
            page = document[0]
            page_width, page_height = page.get_size()
            scale = width / max(page_width, 1)
            if page_height * scale > MAX_HEIGHT:
                scale = MAX_HEIGHT / max(page_height, 1)
            image = page.render(scale=scale, fill_color=(255, 255, 255, 255)).to_pil()
        finally:
            document.close()
    else:
        from PIL import ImageOps

        # Pillow only warns between MAX_IMAGE_PIXELS and twice it (and raises above): refuse from
        # the header at the limit itself, or a valid 121 MP PNG of 350 kB is decoded whole.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(src) as original:
                original.draft("RGB", (width, MAX_HEIGHT))  # JPEG: decode at a reduced size
                # A phone photo is stored sideways with an EXIF orientation: show it as taken.
                image = ImageOps.exif_transpose(
                    original.convert("RGB") if original.mode not in ("RGB", "L") else original
                )
        image.thumbnail((width, MAX_HEIGHT))
    image = image.convert("RGB")
    image.save(out, "WEBP", quality=QUALITY, method=4)
    return image.size


def _limits(cpu_seconds: int, memory_mb: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
        memory = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


def run(src: str, kind: str, out: str, *, timeout_seconds: int, memory_mb: int, width: int = WIDTH) -> tuple[int, int]:
    """Draw the thumbnail in a child process; raises ThumbnailError (reason timeout/cpu/crashed/failed)."""
    process = subprocess.Popen(
        [sys.executable, "-I", str(Path(__file__).resolve()), src, kind, out, str(width)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "OMP_THREAD_LIMIT": "1"},
        preexec_fn=_limits(timeout_seconds, memory_mb),
        start_new_session=True,
    )
    try:
        stdout, _ = process.communicate(timeout=timeout_seconds)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise ThumbnailError("timeout", "Drawing the thumbnail took too long.") from None
    if process.returncode in (-signal.SIGXCPU, -signal.SIGKILL):
        raise ThumbnailError("cpu", "Drawing the thumbnail used more CPU time than allowed.")
    try:
        answer = json.loads(stdout)
    except ValueError:
        raise ThumbnailError("crashed", "The thumbnail could not be drawn (memory limit or a damaged file).") from None
    if "error" in answer:
        raise ThumbnailError("failed", "The first page could not be drawn (damaged or unsupported file).")
    return answer["width"], answer["height"]


def main() -> None:
    src, kind, out, width = sys.argv[1:5]
    try:
        size = draw(src, kind, out, int(width))
    except Exception as error:  # noqa: BLE001 — any failure is an answer, not a traceback
        print(json.dumps({"error": type(error).__name__}))
        return
    print(json.dumps({"width": size[0], "height": size[1]}))


if __name__ == "__main__":
    main()
