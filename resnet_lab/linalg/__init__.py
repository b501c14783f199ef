"""The linear algebra of the operators networks are made of, below both ``models/`` and ``metrics/``.

``convsv``: singular values of convolution operators (FFT, with dense float64 twins); ``procrustes``: polar
factors by Newton–Schulz and the Procrustes projection of conv kernels (P5's norm-preserving layers).
"""
