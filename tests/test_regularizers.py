"""Activity regularisers: the values of ψ, and their gradient pushing activity down."""

import pytest
import torch

from engine.errors import SpandexError
from engine.training.regularizers import ActivityRegularizer


def test_l1_is_the_mean_magnitude_and_lp_approaches_a_count():
    x = torch.zeros(4, 2, 5)
    x[0, 0, 0], x[1, 1, 2], x[3, 0, 4] = 0.5, -0.25, 2.0
    assert float(ActivityRegularizer(1.0, "lp", 1.0).psi(x)) == pytest.approx(2.75 / 40)
    # p -> 0: each event counts ~1 whatever its size
    assert float(ActivityRegularizer(1.0, "lp", 0.01).psi(x)) == pytest.approx(3 / 40, rel=0.05)
    assert float(ActivityRegularizer(1.0, "lp", 0.5).psi(torch.zeros(3, 2, 2))) == 0.0


def test_hoyer_is_one_over_n_for_one_event_and_one_when_uniform():
    one = torch.zeros(5, 1, 4)
    one[2, 0, 1] = 3.0
    uniform = torch.full((5, 1, 4), -0.7)
    reg = ActivityRegularizer(1.0, "hoyer")
    assert float(reg.psi(one)) == pytest.approx(1 / 20)
    assert float(reg.psi(uniform)) == pytest.approx(1.0)
    # scale-invariant
    assert float(reg.psi(one * 100)) == pytest.approx(1 / 20)


def test_weight_scales_and_layers_add():
    layers = [torch.ones(2, 1, 3), torch.full((2, 1, 3), 2.0)]
    assert float(ActivityRegularizer(0.5, "lp", 1.0)(layers)) == pytest.approx(0.5 * (1 + 2))


@pytest.mark.parametrize("kind", ["lp", "hoyer"])
def test_gradient_descent_on_psi_sparsifies_activity(kind):
    torch.manual_seed(0)
    x = (torch.rand(10, 2, 8) + 0.1).requires_grad_(True)
    reg = ActivityRegularizer(1.0, kind, 0.5)
    before = float(reg.psi(x.detach()))
    for _ in range(50):
        x.grad = None
        reg([x]).backward()
        with torch.no_grad():
            x -= 0.05 * x.grad / (x.grad.abs().max() + 1e-12)
    assert float(reg.psi(x.detach())) < before


@pytest.mark.parametrize("kwargs", [{"weight": -1}, {"weight": 1, "kind": "l2"}, {"weight": 1, "p": 2.0},
                                    {"weight": 1, "p": 0.0}])
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(SpandexError):
        ActivityRegularizer(**kwargs)
