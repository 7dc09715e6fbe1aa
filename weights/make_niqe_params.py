"""Stores NIQE's published pristine-image model (Mittal, Soundararajan and Bovik, "Making a 'Completely Blind'
Image Quality Analyzer", IEEE SPL 2013) as safetensors: `mean` [36] and `covariance` [36, 36] (float32) of the
36 natural-scene-statistics features of 96×96 patches of pristine images, fitted by the authors.

Source of the numbers: `basicsr/metrics/niqe_pris_params.npz` in the BasicSR 1.4.2 source release on PyPI
(Apache License 2.0, https://github.com/XPixelGroup/BasicSR), which carries the values of the authors' MATLAB
release (`modelparameters.mat`, LIVE, University of Texas at Austin). Usage: python3 make_niqe_params.py NPZ"""
import sys

import numpy as np
from safetensors.numpy import save_file

params = np.load(sys.argv[1])
save_file(
    {
        "mean": params["mu_pris_param"].reshape(36).astype(np.float32),
        "covariance": params["cov_pris_param"].reshape(36, 36).astype(np.float32),
    },
    "niqe_pristine_params.safetensors",
    metadata={
        "model": "NIQE pristine multivariate Gaussian (36 features: 18 per scale, 2 scales, 96x96 patches)",
        "source": "BasicSR 1.4.2 sdist, basicsr/metrics/niqe_pris_params.npz (Apache-2.0); values of the NIQE "
        "authors' MATLAB release (Mittal, Soundararajan, Bovik, IEEE SPL 2013)",
    },
)
