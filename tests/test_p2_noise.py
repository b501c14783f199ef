"""P2 corruptions (Eq. 5.1) hit the requested levels."""
import pytest
import torch

from resnet_lab.noise import corrupt, gaussian_noise, structured_noise


@pytest.mark.parametrize("sigma", [0.02, 0.05, 0.3])
def test_gaussian_level(sigma):
    x = torch.rand(64, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    noise = gaussian_noise(x, sigma, torch.Generator().manual_seed(1)) - x
    assert noise.std().item() == pytest.approx(sigma, rel=0.01)
    assert abs(noise.mean().item()) < 3 * sigma / noise.numel() ** 0.5 * 3
    again = gaussian_noise(x, sigma, torch.Generator().manual_seed(1)) - x
    assert torch.equal(noise, again)  # same seed, same corruption


@pytest.mark.parametrize("eps", [0.1, 0.5])
def test_structured_level(eps):
    g = torch.Generator().manual_seed(0)
    x, z = torch.rand(8, 3, 32, 32, generator=g), torch.rand(3, 32, 32, generator=g)
    noise = structured_noise(x, z, eps) - x
    assert torch.allclose(noise, (eps * z).expand_as(noise), atol=1e-7)
    assert noise[0].norm().item() == pytest.approx(eps * z.norm().item(), rel=1e-6)


def test_corrupt_dispatch():
    x = torch.rand(2, 3, 4, 4)
    assert corrupt(x, "none", 0.3) is x
    with pytest.raises(ValueError):
        corrupt(x, "structured", 0.1)
    with pytest.raises(ValueError):
        corrupt(x, "salt", 0.1)
