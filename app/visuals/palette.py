"""A brand's dark scheme: its colours and logo for `prefers-color-scheme: dark`.

Input: the brand's light colours (`brand.json` "colors") and what its optional "dark" object
declares. Output: a full set of the same seven colours for the dark scheme, every one the
brand did not declare derived so that each pair the templates paint (lint's CONTRAST_PAIRS)
keeps WCAG AA: near-black grounds tinted with the brand's primary, light text, and the
primary lightened until it reads on them. `dark_logo` derives a logo for dark grounds by
inverting each pixel's lightness while keeping its hue (a dark-blue word turns light blue).
"""

from __future__ import annotations

import colorsys
import io

from PIL import Image

from app.visuals.contrast import AA_NORMAL, contrast_ratio, parse_hex

# The grounds a dark scheme starts from, before the brand's tint.
_BACKGROUND, _SURFACE, _TEXT, _MUTED = "#101214", "#1b1e21", "#eceef0", "#aab1b8"


def _hex(rgb: tuple[float, float, float]) -> str:
    return "#" + "".join(f"{round(max(0.0, min(255.0, v))):02x}" for v in rgb)


def mix(first: str, second: str, share: float) -> str:
    """`share` of `second` in `first` (0: first, 1: second)."""
    a, b = parse_hex(first), parse_hex(second)
    if a is None or b is None:
        raise ValueError(f"not a #rrggbb colour: {first if a is None else second}")
    return _hex(tuple(x + (y - x) * share for x, y in zip(a, b, strict=True)))


def readable_on(colour: str, grounds: list[str], towards: str = "#ffffff") -> str:
    """`colour` moved towards `towards` in small steps until it has AA contrast on every ground."""
    for step in range(21):
        candidate = mix(colour, towards, step / 20)
        if all(contrast_ratio(candidate, ground) >= AA_NORMAL for ground in grounds):
            return candidate
    return towards


def _tint(colour: str) -> str:
    """The brand's hue at no more than mid lightness: a white or yellow primary tints a dark
    ground as little as a navy one."""
    rgb = parse_hex(colour)
    if rgb is None:
        raise ValueError(f"not a #rrggbb colour: {colour}")
    hue, lightness, saturation = colorsys.rgb_to_hls(*(v / 255 for v in rgb))
    return _hex(tuple(v * 255 for v in colorsys.hls_to_rgb(hue, min(lightness, 0.4), saturation)))


def dark_colors(light: dict[str, str], declared: dict[str, str] | None = None) -> dict[str, str]:
    """The dark scheme's colours: what `declared` gives, the rest derived from `light`."""
    given = dict(declared or {})
    primary = light["primary"]
    tint = _tint(primary)
    background = given.get("background") or mix(_BACKGROUND, tint, 0.06)
    surface = given.get("surface") or mix(_SURFACE, tint, 0.08)
    accent = given.get("accent") or mix(_SURFACE, tint, 0.22)
    grounds = [background, surface, accent]
    text = given.get("text") or readable_on(_TEXT, grounds)
    muted = given.get("muted") or readable_on(_MUTED, [background, surface])
    dark_primary = given.get("primary") or readable_on(primary, grounds)
    on_primary = given.get("on_primary") or max(
        (background, "#ffffff"), key=lambda candidate: contrast_ratio(candidate, dark_primary))
    return {"primary": dark_primary, "on_primary": on_primary, "text": text, "muted": muted,
            "background": background, "surface": surface, "accent": accent}


def dark_logo(png: bytes) -> bytes:
    """The logo for dark grounds: each pixel's lightness inverted, its hue, saturation and alpha kept."""
    with Image.open(io.BytesIO(png)) as image:
        image = image.convert("RGBA")
        data, out, seen = image.tobytes(), bytearray(), {}
        for i in range(0, len(data), 4):
            rgb = data[i:i + 3]
            if rgb not in seen:
                h, lightness, s = colorsys.rgb_to_hls(*(v / 255 for v in rgb))
                seen[rgb] = bytes(round(v * 255) for v in colorsys.hls_to_rgb(h, 1 - lightness, s))
            out += seen[rgb] + data[i + 3:i + 4]
        image = Image.frombytes("RGBA", image.size, bytes(out))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
