"""GPU metrics shared by the chapters: conv spectra, Jacobians, angles, stability constants."""
