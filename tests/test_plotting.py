"""The book's shared plotting style: one verdict palette, one architecture palette, one theme."""
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from resnet_lab import ledger, plotting  # noqa: E402
from resnet_lab.models import list_models  # noqa: E402

HEX = re.compile(r"^#[0-9a-fA-F]{6}$")


def test_verdict_colors_are_the_ledgers_own():
    assert plotting.VERDICT_COLORS is ledger.VERDICT_COLORS
    assert set(plotting.VERDICT_COLORS) == set(ledger.VERDICTS)


def test_architecture_palette_is_distinct_and_never_a_verdict_colour():
    colors = [c.lower() for c in plotting.ARCH_COLORS.values()]
    assert all(HEX.match(c) for c in colors)
    assert len(set(colors)) == len(colors)
    assert not set(colors) & {c.lower() for c in ledger.VERDICT_COLORS.values()}
    for name in ("residual", "plain twin", "BN", "no BN", "ResNet-D", "ResNet-S", "ProcResNet"):
        assert name in plotting.ARCH_COLORS


def test_aliases_point_into_the_palette_and_name_real_models():
    assert set(plotting.ALIASES.values()) <= set(plotting.ARCH_COLORS)
    registry = set(list_models())
    for alias in plotting.ALIASES:
        if "_" in alias:  # registry-style names must exist in the model registry
            assert alias in registry, alias
    assert plotting.arch_color("resnet_d") == plotting.ARCH_COLORS["ResNet-D"]
    assert plotting.arch_color("Without BN") == plotting.ARCH_COLORS["no BN"]


def test_unknown_architecture_lists_the_valid_names():
    with pytest.raises(KeyError, match="plain twin"):
        plotting.arch_color("transformer")


def test_palette_keeps_order_and_drops_duplicates():
    pal = plotting.palette(["plain", "residual", "plain"])
    assert list(pal) == ["plain", "residual"]
    assert pal["plain"] == plotting.ARCH_COLORS["plain twin"]


def test_legend_handles_label_every_colour():
    handles = plotting.legend_handles(plotting.VERDICT_COLORS)
    assert [h.get_label() for h in handles] == list(plotting.VERDICT_COLORS)
    lines = plotting.legend_handles({"a": "#000000"}, kind="line")
    assert lines[0].get_color() == "#000000"
    with pytest.raises(ValueError):
        plotting.legend_handles({}, kind="dots")


def test_use_book_style_sets_the_theme_and_scales_fonts():
    with matplotlib.rc_context():
        rc = plotting.use_book_style()
        assert plt.rcParams["axes.labelsize"] == rc["axes.labelsize"] == plotting.BOOK_RC["axes.labelsize"]
        assert plt.rcParams["axes.spines.top"] is False
        first = matplotlib.colors.to_hex(plt.rcParams["axes.prop_cycle"].by_key()["color"][0])
        assert first.lower() == plotting.ARCH_COLORS["residual"].lower()
        assert plotting.use_book_style() == rc  # idempotent
        big = plotting.use_book_style(font_scale=1.5)
        assert big["axes.labelsize"] == pytest.approx(1.5 * plotting.BOOK_RC["axes.labelsize"])
        assert plt.rcParams["figure.figsize"] == list(plotting.BOOK_RC["figure.figsize"])


def test_how_to_read_page_shows_the_palettes_colours():
    """The swatches on book/how_to_read.md are the package's colours (prose and code cannot drift apart)."""
    from resnet_lab.artifacts import REPO_ROOT

    rows = [line for line in (REPO_ROOT / "book" / "how_to_read.md").read_text().splitlines()
            if line.startswith("|") and "background:#" in line]
    shown = {re.search(r"background:(#[0-9a-fA-F]{6})", r).group(1).lower(): r for r in rows}
    for verdict, color in plotting.VERDICT_COLORS.items():
        assert color.lower() in shown and f">{verdict}<" in shown[color.lower()], verdict
    assert {c.lower() for c in plotting.ARCH_COLORS.values()} <= set(shown)
