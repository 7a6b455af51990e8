"""WCAG 2.x contrast of two sRGB colours, written out here rather than imported.

The formula is a dozen lines (WCAG 2.2, "relative luminance" and "contrast ratio"); the one
package that does only this (`wcag-contrast-ratio`) was last released in 2015 and takes
0-1 floats, so the hex parsing would be ours anyway.
"""

from __future__ import annotations

import re

# WCAG 2.x level AA for normal-size text.
AA_NORMAL = 4.5
_HEX = re.compile(r"^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")


def parse_hex(colour: str) -> tuple[int, int, int] | None:
    match = _HEX.match(colour.strip())
    if not match:
        return None
    digits = match.group(1)
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)


def relative_luminance(rgb: tuple[int, int, int]) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(foreground: str, background: str) -> float:
    """(L1 + 0.05) / (L2 + 0.05), the lighter over the darker: 1 to 21."""
    first, second = parse_hex(foreground), parse_hex(background)
    if first is None or second is None:
        raise ValueError(f"not a #rrggbb colour: {foreground if first is None else background}")
    lighter, darker = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)
