"""app/visuals/palette.py: a brand's dark scheme, derived with WCAG AA contrast where not declared."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from app.brands import DEFAULT_COLORS
from app.visuals.contrast import AA_NORMAL, contrast_ratio
from app.visuals.palette import dark_colors, dark_logo
from app.workbench.lint import CONTRAST_PAIRS


@pytest.mark.parametrize("primary", ["#0b5394", "#6f3b1f", "#1b6e3c", "#000000", "#ffffff", "#ffd400",
                                     "#e4002b", "#7b2cbf", "#00a3e0"])
def test_derived_dark_colours_keep_every_pair_at_aa(primary: str) -> None:
    dark = dark_colors({**DEFAULT_COLORS, "primary": primary})
    assert set(dark) == set(DEFAULT_COLORS)
    for foreground, background in CONTRAST_PAIRS:
        ratio = contrast_ratio(dark[foreground], dark[background])
        assert ratio >= AA_NORMAL, (primary, foreground, background, ratio)
    # Dark grounds: the page, the content and the card are all darker than mid-grey.
    assert all(contrast_ratio(dark[name], "#000000") < 2 for name in ("background", "surface", "accent"))


def test_declared_dark_colours_are_kept() -> None:
    dark = dark_colors(DEFAULT_COLORS, {"primary": "#8ab4f8", "surface": "#161b22"})
    assert dark["primary"] == "#8ab4f8" and dark["surface"] == "#161b22"


def test_dark_logo_inverts_lightness_and_keeps_hue_and_alpha() -> None:
    image = Image.new("RGBA", (3, 1))
    image.putdata([(0, 0, 0, 255), (255, 255, 255, 128), (11, 83, 148, 255)])
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    with Image.open(io.BytesIO(dark_logo(buffer.getvalue()))) as result:
        black, white, blue = (result.getpixel((x, 0)) for x in range(3))
    assert black == (255, 255, 255, 255) and white == (0, 0, 0, 128)
    r, g, b, a = blue
    assert a == 255 and b > g > r and contrast_ratio(f"#{r:02x}{g:02x}{b:02x}", "#161b22") >= AA_NORMAL
