"""OCR through Debian's tesseract, called directly (no Python wrapper needed)."""

import os
import re
import shutil
import subprocess

from documents.extraction import ExtractionError, Limits

LANGUAGES = re.compile(r"^[A-Za-z_]+(\+[A-Za-z_]+)*$")
MAX_PIXELS = 60_000_000  # ~ an A4 page at 600 dpi; larger images are decompression bombs or posters


def tesseract_available() -> bool:
    return shutil.which("tesseract") is not None


def ocr_image(image_path: str, limits: Limits) -> str:
    if not tesseract_available():
        raise ExtractionError("OCR is not installed on this server (tesseract).", reason="ocr_unavailable")
    languages = limits.ocr_languages.replace(",", "+").replace(" ", "")
    if not LANGUAGES.match(languages):
        raise ExtractionError("The configured OCR languages are not valid.", reason="config")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "OMP_THREAD_LIMIT": "1", "LANG": "C.UTF-8"}
    try:
        done = subprocess.run(
            ["tesseract", image_path, "stdout", "-l", languages],
            capture_output=True,
            timeout=limits.ocr_timeout_seconds,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ExtractionError("OCR took too long.", reason="timeout") from exc
    if done.returncode != 0:
        # tesseract's stderr names the file and the language, never the content.
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["failed"]
        raise ExtractionError(f"OCR failed: {detail[0][:150]}", reason="ocr_failed")
    return done.stdout.decode("utf-8", "replace")


def check_image(path: str) -> None:
    """Refuse images whose pixel count would make OCR (or decoding) unbounded."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            width, height = image.size
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ExtractionError("The image could not be read; it may be damaged.", reason="damaged") from exc
    if width * height > MAX_PIXELS:
        raise ExtractionError("The image is too large to OCR.", reason="too_large")
