"""Learning-rate schedules: each formula at several n, state dicts and validation."""

import math

import pytest

import tinygraph as tg
from tinygraph.optim import (
    SGD,
    Adam,
    CosineDecay,
    ExponentialDecay,
    InverseSqrtDecay,
    InverseTimeDecay,
    LambdaDecay,
    StepDecay,
)

LR0 = 0.2


def make_opt(lr=LR0):
    return SGD([tg.tensor([1.0], requires_grad=True)], lr=lr)


def lrs_after_steps(sched, n_max):
    """lr after n = 1..n_max calls of step(), read back from the optimizer."""
    out = []
    for _ in range(n_max):
        sched.step()
        out.append(sched.optimizer.lr)
    return out


CASES = [
    ("inverse-time", lambda o: InverseTimeDecay(o, decay_rate=1.0), lambda n: LR0 / (1 + n)),
    ("inverse-time-steps", lambda o: InverseTimeDecay(o, 0.5, decay_steps=3), lambda n: LR0 / (1 + 0.5 * n / 3)),
    (
        "inverse-time-staircase",
        lambda o: InverseTimeDecay(o, 0.5, decay_steps=3, staircase=True),
        lambda n: LR0 / (1 + 0.5 * (n // 3)),
    ),
    ("exponential", lambda o: ExponentialDecay(o, gamma=0.95), lambda n: LR0 * 0.95**n),
    ("inverse-sqrt", lambda o: InverseSqrtDecay(o, k=0.5), lambda n: LR0 * 0.5 / math.sqrt(n + 1)),
    ("step", lambda o: StepDecay(o, step_size=4, gamma=0.5), lambda n: LR0 * 0.5 ** (n // 4)),
    (
        "cosine",
        lambda o: CosineDecay(o, total_steps=8, min_lr=0.02),
        lambda n: 0.02 + (LR0 - 0.02) * (1 + math.cos(math.pi * min(n, 8) / 8)) / 2,
    ),
    ("lambda", lambda o: LambdaDecay(o, lambda n: 1 / (1 + n) ** 2), lambda n: LR0 / (1 + n) ** 2),
]


@pytest.mark.parametrize("name, make, formula", CASES, ids=[c[0] for c in CASES])
def test_schedule_formula(name, make, formula):
    opt = make_opt()
    sched = make(opt)
    assert opt.lr == pytest.approx(formula(0), abs=1e-15)
    got = lrs_after_steps(sched, 12)
    want = [formula(n) for n in range(1, 13)]
    assert got == pytest.approx(want, rel=1e-14, abs=0)
    assert sched.lr_at(5) == pytest.approx([formula(5)])
    assert sched.n == 12


def test_hand_computed_values():
    opt = make_opt(1.0)
    s = InverseTimeDecay(opt, decay_rate=1.0)
    assert [s.step() for _ in range(3)] == pytest.approx([1 / 2, 1 / 3, 1 / 4])
    opt = make_opt(1.0)
    s = CosineDecay(opt, total_steps=2)
    assert [s.step() for _ in range(3)] == pytest.approx([0.5, 0.0, 0.0], abs=1e-15)
    opt = make_opt(0.1)
    s = StepDecay(opt, step_size=2, gamma=0.1)
    assert [s.step() for _ in range(4)] == pytest.approx([0.1, 0.01, 0.01, 0.001])


def test_schedule_drives_the_update_size():
    w = tg.tensor([0.0], requires_grad=True)
    opt = SGD([w], lr=1.0)
    sched = ExponentialDecay(opt, gamma=0.5)
    moves = []
    for _ in range(3):
        w.grad = tg.tensor([-1.0])
        before = w.item()
        opt.step()
        moves.append(w.item() - before)
        sched.step()
    assert moves == pytest.approx([1.0, 0.5, 0.25])


def test_every_group_scaled_from_its_own_lr0():
    a = tg.tensor([1.0], requires_grad=True)
    b = tg.tensor([1.0], requires_grad=True)
    opt = Adam([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    sched = ExponentialDecay(opt, 0.5)
    sched.step()
    assert sched.get_last_lr() == pytest.approx([0.05, 0.25])


def test_state_dict_round_trip():
    opt = make_opt()
    sched = InverseTimeDecay(opt, 0.3, decay_steps=2, staircase=True)
    lrs_after_steps(sched, 5)
    sd = sched.state_dict()
    assert sd["n"] == 5 and sd["base_lrs"] == [LR0] and sd["decay_rate"] == 0.3
    opt2 = make_opt(123.0)
    sched2 = InverseTimeDecay(opt2, 0.9)
    sched2.load_state_dict(sd)
    assert opt2.lr == pytest.approx(opt.lr)
    assert lrs_after_steps(sched2, 3) == pytest.approx(lrs_after_steps(sched, 3))


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda o: InverseTimeDecay(o, -1.0), "InverseTimeDecay: decay_rate must be >= 0"),
        (lambda o: InverseTimeDecay(o, 1.0, decay_steps=0), "InverseTimeDecay: decay_steps must be a positive integer"),
        (lambda o: ExponentialDecay(o, 0.0), "ExponentialDecay: gamma must be > 0"),
        (lambda o: InverseSqrtDecay(o, k=-1), "InverseSqrtDecay: k must be > 0"),
        (lambda o: StepDecay(o, step_size=1.5), "StepDecay: step_size must be a positive integer"),
        (lambda o: CosineDecay(o, total_steps=0), "CosineDecay: total_steps"),
        (lambda o: CosineDecay(o, 10, min_lr=-1), "CosineDecay: min_lr"),
    ],
)
def test_validation(make, match):
    with pytest.raises(ValueError, match=match):
        make(make_opt())


def test_needs_an_optimizer_and_callable():
    with pytest.raises(TypeError, match="expected a tinygraph.optim optimizer"):
        ExponentialDecay(object(), 0.5)
    with pytest.raises(TypeError, match="fn must be callable"):
        LambdaDecay(make_opt(), 0.5)


def test_a_group_added_after_the_schedule_is_scheduled_from_when_it_joined():
    import tinygraph as tg
    from tinygraph.optim import SGD, ExponentialDecay

    w, v = tg.tensor([1.0], requires_grad=True), tg.tensor([1.0], requires_grad=True)
    opt = SGD([w], lr=1.0)
    sched = ExponentialDecay(opt, 0.5)
    sched.step()
    opt.add_param_group({"params": [v], "lr": 1.0})  # unfreezing a layer mid-run
    for _ in range(3):
        sched.step()
    # by hand (and torch's ExponentialLR): the first group 0.5^4, the new one 0.5^3 from its own 1.0
    assert [g["lr"] for g in opt.param_groups] == [0.0625, 0.125]  # it stayed at 1.0
    state = sched.state_dict()
    again = ExponentialDecay(opt, 0.5)
    again.load_state_dict(state)  # (it refused: 1 saved learning rate for 2 groups)
    again.step()
    assert [g["lr"] for g in opt.param_groups] == [0.03125, 0.0625]
