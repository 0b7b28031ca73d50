"""The fonts of the brief, found once: the Chinese (CJK) font the PDF (reportlab) and the map
image (Pillow) both draw with, and a fallback font for the scripts it lacks (Arabic, Hebrew,
Greek, Cyrillic …: names typed by people can be in any script).

reportlab embeds only TrueType outlines (``glyf``), not CFF/PostScript ones, so only TrueType
fonts are taken: Debian's ``fonts-wqy-microhei`` first (what the project's set-up installs and
the tests run with), then what ``fc-list`` knows for Chinese in TrueType format.
"""

from __future__ import annotations

import functools
import logging
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from layers.errors import OnemapError

logger = logging.getLogger(__name__)

KNOWN_FONTS: tuple[tuple[str, int], ...] = (
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),  # Debian fonts-wqy-microhei
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),  # Debian fonts-wqy-zenhei
    ("/usr/share/fonts/wenquanyi/wqy-microhei/wqy-microhei.ttc", 0),  # Fedora
)
"""(file, index in a collection) of TrueType CJK fonts at their packaged paths, preferred first."""

FALLBACK_FONTS: tuple[tuple[str, int], ...] = (
    ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 0),  # Debian fonts-dejavu-core
    ("/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf", 0),  # Fedora
)
"""TrueType fonts with the non-CJK scripts, preferred first; optional."""

INSTALL_HINT = "install a Chinese TrueType font: on Debian/Ubuntu `apt-get install fonts-wqy-microhei` (the project's set-up, .ci/ensure-browser, does it)"


class FontNotFoundError(OnemapError):
    """No Chinese TrueType font on this machine: the brief cannot print Chinese."""


@dataclass(frozen=True)
class FontFile:
    """A TrueType font file; ``index`` is the face inside a .ttc collection."""

    path: Path
    index: int = 0


def _fc_list() -> list[FontFile]:
    """Chinese TrueType faces fontconfig knows (``fc-match :lang=zh`` may answer a Latin font)."""
    if shutil.which("fc-list") is None:
        return []
    try:
        listing = subprocess.run(["fc-list", ":lang=zh:fontformat=TrueType", "file", "index"], capture_output=True, text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError) as error:
        logger.warning("fc-list failed: %s", error)
        return []
    found = []
    for line in sorted(listing.splitlines()):
        path, _, rest = line.partition(":")
        index = rest.split("index=")[-1].split(":")[0] if "index=" in rest else "0"
        if path.strip() and index.strip().isdigit():
            found.append(FontFile(Path(path.strip()), int(index)))
    return found


@functools.cache
def find_cjk_font() -> FontFile:
    """The CJK font to draw the brief with (found once per process).

    Raises
    ------
    FontNotFoundError
        When no Chinese TrueType font is installed; the message says what to install.
    """
    candidates = [FontFile(Path(path), index) for path, index in KNOWN_FONTS] + _fc_list()
    for font in candidates:
        if font.path.is_file():
            logger.debug("brief font: %s (face %d)", font.path, font.index)
            return font
    raise FontNotFoundError(f"no Chinese font found for the brief (looked at {', '.join(path for path, _ in KNOWN_FONTS)} and fc-list :lang=zh): {INSTALL_HINT}")


@functools.cache
def find_fallback_font() -> FontFile | None:
    """The font for characters the CJK font lacks (DejaVu Sans), or ``None`` when absent."""
    for path, index in FALLBACK_FONTS:
        if Path(path).is_file():
            return FontFile(Path(path), index)
    logger.info("no fallback font (fonts-dejavu-core): characters missing from the CJK font print as blanks")
    return None
