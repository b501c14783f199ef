"""One plotting style for the whole book: verdict colours, an architecture palette and the seaborn theme.

A colour that carries meaning means the same thing in every chapter: green is always *holds*, the
vermillion line is always the plain twin. Chapters call :func:`use_book_style` once (after their imports)
and take colours from here instead of naming their own::

    from resnet_lab.plotting import ARCH_COLORS, arch_color, legend_handles, use_book_style
    use_book_style()
    ax.plot(depths, resnet_values, color=arch_color("residual"), label="residual")
    sns.lineplot(data=frame, x="depth", y="ratio", hue="arch", palette=palette(frame["arch"]))

The architecture colours are the Okabe–Ito colour-blind-safe set (plus two darker tones from Paul Tol's
palette), none of them equal to a verdict colour.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

from .ledger import VERDICT_COLORS  # re-exported: one verdict colour for the ledger, the cards and figures

__all__ = ["VERDICT_COLORS", "ARCH_COLORS", "ALIASES", "arch_color", "palette", "legend_handles",
           "use_book_style", "BOOK_RC"]

# One colour per kind of network compared in the book (the vocabulary of ../shared/STYLE.md).
ARCH_COLORS = {
    "residual": "#0072B2",              # a ResNet with its skips (blue)
    "plain twin": "#D55E00",            # the same network with every skip removed (vermillion)
    "BN": "#009E73",                    # with batch norm (bluish green)
    "no BN": "#CC79A7",                 # without batch norm (reddish purple)
    "ResNet-D": "#E69F00",              # P2's ResNet-D (orange)
    "ResNet-S": "#56B4E9",              # P2's ResNet-S (sky blue)
    "ProcResNet": "#882255",            # P5's Procrustes ResNet (wine)
    "dimension-preserving": "#332288",  # P4's dimension-preserving ResNet (indigo)
}

# Other spellings (registry names, the papers' names) → the palette's key.
ALIASES = {
    "resnet": "residual", "skip": "residual", "with skip": "residual", "preact_resnet": "residual",
    "plain": "plain twin", "base18": "plain twin", "no skip": "plain twin", "preact_plain": "plain twin",
    "bn": "BN", "with bn": "BN", "no bn": "no BN", "without bn": "no BN",
    "resnet_d": "ResNet-D", "d": "ResNet-D", "resnet_s": "ResNet-S", "s": "ResNet-S",
    "procresnet": "ProcResNet", "procrustes": "ProcResNet",
    "dimpreserve": "dimension-preserving", "dimpreserve_resnet18": "dimension-preserving",
    "dimpreserve_resnet50": "dimension-preserving",
}

# The theme's rc overrides: readable at the book's column width, no chart junk.
BOOK_RC = {
    "figure.figsize": (6.4, 4.0),
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "legend.title_fontsize": 9,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "image.cmap": "viridis",
}


def _key(name: str) -> str:
    if name in ARCH_COLORS:
        return name
    key = ALIASES.get(str(name).strip().lower())
    if key is None:
        raise KeyError(f"no book colour for architecture {name!r}; valid: "
                       f"{', '.join(list(ARCH_COLORS) + sorted(ALIASES))}")
    return key


def arch_color(name: str) -> str:
    """Return the book's hex colour for an architecture (a palette key, a registry name or an alias).

    Raises ``KeyError`` listing the valid names for an unknown one.
    """
    return ARCH_COLORS[_key(name)]


def palette(names: Iterable[str]) -> dict[str, str]:
    """Return ``{name: colour}`` for the distinct ``names`` (e.g. a frame's ``hue`` column), for seaborn's ``palette=``."""
    return {name: arch_color(name) for name in dict.fromkeys(names)}


def legend_handles(colors: Mapping[str, str], kind: str = "patch") -> list:
    """Return legend handles (``Patch`` or ``Line2D``) labelled by ``colors``' keys, e.g. ``VERDICT_COLORS``.

    Use them where a colour carries meaning but no plotted artist has a label: ``ax.legend(handles=...)``.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    if kind == "patch":
        return [Patch(facecolor=c, edgecolor="none", label=name) for name, c in colors.items()]
    if kind == "line":
        return [Line2D([], [], color=c, label=name) for name, c in colors.items()]
    raise ValueError(f"unknown handle kind {kind!r}; valid: 'patch', 'line'")


def use_book_style(context: str = "notebook", font_scale: float = 1.0) -> dict:
    """Apply the book's seaborn theme (white grid, the architecture palette, ``BOOK_RC``); return the rc applied.

    Idempotent: call it once per notebook after the imports. ``context`` and ``font_scale`` are seaborn's.
    """
    import seaborn as sns

    rc = {k: v * font_scale if k.endswith("size") and isinstance(v, (int, float)) else v
          for k, v in BOOK_RC.items()}
    sns.set_theme(context=context, style="whitegrid", palette=list(ARCH_COLORS.values()),
                  font_scale=font_scale, rc=rc)
    return rc


def show_images(axes, images, titles: list[str]) -> None:
    """Draw uint8 ``(N, 3, H, W)`` image tensors on ``axes`` with ``titles`` (grey when the channels are equal)."""
    for ax, image, title in zip(axes, images, titles):
        grey = bool((image == image[:1]).all())
        ax.imshow(image[0] if grey else image.permute(1, 2, 0), cmap="gray" if grey else None)
        ax.set_title(title, fontsize=7)
        ax.axis("off")
