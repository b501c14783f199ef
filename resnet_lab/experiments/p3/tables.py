"""What P3's notebook reads to draw its figures: the singular values saved beside the result.

The notebook (``notebooks/p3_linearization.ipynb``) builds its frames and plots from the result and these
arrays; frames it grows belong here.
"""
from __future__ import annotations

import numpy as np

from ...artifacts import load_arrays
from .measure import spectra_path


def spectra(profile: str) -> dict[str, np.ndarray]:
    """Return the singular-value arrays that :func:`run` saved beside its result (figures 1, 4, 5)."""
    return load_arrays(spectra_path(profile))
