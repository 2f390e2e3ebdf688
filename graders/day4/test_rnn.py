"""Graders for day4/rnn.py: RNN/LSTM/GRU cells, unrolling, BPTT, truncated BPTT, clipping."""

from __future__ import annotations

import copy
import itertools
import math

import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from graders import strategies as ds
from graders import student
from graders.checks import assert_close, assert_equal, close_values, equal_values, fail
from graders.forbid import by_hand, forbidden_calls
from graders.profiles import examples

mod = student("day4.rnn")

_CELLS = {"rnn": (nn.RNNCell, 1), "lstm": (nn.LSTMCell, 4), "gru": (nn.GRUCell, 3)}
_FORBIDDEN = {
    "rnn": ("torch.nn.RNNCell", "torch.nn.RNN", "torch.rnn_tanh_cell", "torch.rnn_relu_cell",
            "torch.rnn_tanh", "torch.rnn_relu"),
    "lstm": ("torch.nn.LSTMCell", "torch.nn.LSTM", "torch.lstm_cell", "torch.lstm"),
    "gru": ("torch.nn.GRUCell", "torch.nn.GRU", "torch.gru_cell", "torch.gru"),
}


def _tol(dtype):
    return (1e-5, 1e-5) if dtype == torch.float32 else (1e-7, 1e-7)


def _make_cell(kind, d, h, bias, dtype, seed):
    torch.manual_seed(seed)
    cell = _CELLS[kind][0](d, h, bias=bias).to(dtype)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():  # bias values well away from 0, so a missing bias shows
        for p in cell.parameters():
            p.copy_((torch.rand(p.shape, generator=g, dtype=torch.float64) * 2 - 1).to(dtype))
    return cell


def _weights(cell):
    return (cell.weight_ih, cell.weight_hh, getattr(cell, "bias_ih", None),
            getattr(cell, "bias_hh", None))


@st.composite
def cell_cases(draw, kind):
    b, d, h = draw(st.integers(1, 4)), draw(st.integers(1, 5)), draw(st.integers(1, 5))
    dtype = draw(ds.dtypes())
    bias = draw(st.booleans()) or draw(st.booleans())
    cell = _make_cell(kind, d, h, bias, dtype, draw(st.integers(0, 1000)))
    x = draw(ds.tensors((b, d), dtype, min_value=-2, max_value=2))
    hs = draw(ds.tensors((b, h), dtype, min_value=-1, max_value=1))
    c = draw(ds.tensors((b, h), dtype, min_value=-1, max_value=1))
    return cell, x, hs, c


def _call_cell(kind, x, h, c, weights):
    with forbidden_calls(*_FORBIDDEN[kind], what=f"{kind}_cell",
                         why="write the cell from its equations with matrix products"):
        if kind == "lstm":
            return mod.lstm_cell(x, (h, c), *weights)
        return getattr(mod, f"{kind}_cell")(x, h, *weights)


# Wrong variants of each cell, to name the mistake when the student's output matches one.
def _aff(x, w, b):
    return x @ w.T if b is None else x @ w.T + b


def _lstm_variant(x, h, c, w_ih, w_hh, b_ih, b_hh, order):
    blocks = dict(zip(order, (_aff(x, w_ih, b_ih) + _aff(h, w_hh, b_hh)).chunk(4, -1)))
    c2 = torch.sigmoid(blocks["f"]) * c + torch.sigmoid(blocks["i"]) * torch.tanh(blocks["g"])
    return torch.sigmoid(blocks["o"]) * torch.tanh(c2), c2


def _gru_variant(x, h, w_ih, w_hh, b_ih, b_hh, order="rzn", z_old=True, reset="after_bias"):
    gi = dict(zip(order, _aff(x, w_ih, b_ih).chunk(3, -1)))
    gh = dict(zip(order, _aff(h, w_hh, b_hh).chunk(3, -1)))
    r = torch.sigmoid(gi["r"] + gh["r"])
    z = torch.sigmoid(gi["z"] + gh["z"])
    hidden = order.index("n")
    w_hn = w_hh.chunk(3, 0)[hidden]
    b_hn = None if b_hh is None else b_hh.chunk(3, 0)[hidden]
    if reset == "after_bias":
        n = torch.tanh(gi["n"] + r * gh["n"])
    elif reset == "before_bias":
        n = torch.tanh(gi["n"] + r * (h @ w_hn.T) + (0 if b_hn is None else b_hn))
    else:  # the reset gate applied to h before the matrix product
        n = torch.tanh(gi["n"] + _aff(r * h, w_hn, b_hn))
    return (1 - z) * n + z * h if z_old else z * n + (1 - z) * h


def _name_the_mistake(kind, got, x, h, c, weights):
    w_ih, w_hh, b_ih, b_hh = weights
    variants: dict[str, object] = {}
    if b_ih is not None:
        name = {"rnn": None, "lstm": "lstm", "gru": "gru"}[kind]
        if kind == "rnn":
            variants["b_hh is missing (both biases are added)"] = torch.tanh(_aff(x, w_ih, b_ih) + h @ w_hh.T)
            variants["b_ih is missing (both biases are added)"] = torch.tanh(x @ w_ih.T + _aff(h, w_hh, b_hh))
        elif name == "lstm":
            variants["b_hh is missing (both biases are added)"] = _lstm_variant(x, h, c, w_ih, w_hh, b_ih, None, "ifgo")
            variants["b_ih is missing (both biases are added)"] = _lstm_variant(x, h, c, w_ih, w_hh, None, b_hh, "ifgo")
        else:
            variants["b_hh is missing (both biases are added)"] = _gru_variant(x, h, w_ih, w_hh, b_ih, None)
            variants["b_ih is missing (both biases are added)"] = _gru_variant(x, h, w_ih, w_hh, None, b_hh)
    if kind == "lstm":
        for order in itertools.permutations("ifgo"):
            if order != tuple("ifgo"):
                variants[f"the gates are taken in the order {', '.join(order)}; torch's order "
                         f"is i, f, g, o"] = _lstm_variant(x, h, c, *weights, order)
    if kind == "gru":
        variants["the gates are taken in the order z, r, n; torch's order is r, z, n"] = \
            _gru_variant(x, h, *weights, order="zrn")
        variants["z weights the new candidate; in torch h' = (1 - z) * n + z * h"] = \
            _gru_variant(x, h, *weights, z_old=False)
        variants["the reset gate multiplies h W_hn^T but not b_hn; in torch it multiplies "
                 "(h W_hn^T + b_hn)"] = _gru_variant(x, h, *weights, reset="before_bias")
        variants["the reset gate is applied to h before the product; in torch it multiplies "
                 "(h W_hn^T + b_hn)"] = _gru_variant(x, h, *weights, reset="before_matmul")
    matches = []
    for message, value in variants.items():
        vals = value if isinstance(value, tuple) else (value,)
        outs = got if isinstance(got, (tuple, list)) else (got,)
        if len(vals) == len(outs) and all(
            isinstance(o, torch.Tensor) and o.shape == v.shape
            and close_values(o.double(), v.double(), rtol=1e-5, atol=1e-5)
            for o, v in zip(outs, vals)
        ):
            matches.append(message)
    if len(matches) > 1 and all("order" in m for m in matches):
        order = "i, f, g, o" if kind == "lstm" else "r, z, n"
        matches = [f"the gates are taken in the wrong order; torch's order is {order}"]
    if matches:
        fail(f"{kind}_cell does not match nn.{_CELLS[kind][0].__name__}: {matches[0]}.")


def _check_cell(kind, cell, x, h, c):
    weights = tuple(p.detach() if p is not None else None for p in _weights(cell))
    with torch.no_grad():
        got = _call_cell(kind, x, h, c, weights)
        expected = cell(x, (h, c)) if kind == "lstm" else cell(x, h)
    rtol, atol = _tol(x.dtype)
    ok = True
    try:
        assert_close(got, expected, rtol=rtol, atol=atol, what="")
    except BaseException:  # noqa: BLE001
        ok = False
    if not ok:
        _name_the_mistake(kind, got, x, h, c, weights)
    bias = "with biases" if weights[2] is not None else "without biases (b_ih = b_hh = None)"
    assert_close(got, expected, rtol=rtol, atol=atol,
                 what=f"{kind}_cell(x {tuple(x.shape)}, h {tuple(h.shape)}, ...) {bias}, "
                      f"{x.dtype}, against nn.{type(cell).__name__}")


def _check_cell_gradients(kind, cell, x, h, c):
    cell = cell.double()
    x, h, c = (t.double().requires_grad_(True) for t in (x, h, c))
    weights = tuple(p.detach().clone().requires_grad_(True) if p is not None else None
                    for p in _weights(cell))
    out = _call_cell(kind, x, h, c, weights)
    outs = out if isinstance(out, tuple) else (out,)
    g = torch.Generator().manual_seed(7)
    upstream = [torch.randn(o.shape, generator=g, dtype=torch.float64) for o in outs]
    inputs = [t for t in (x, h, c) + weights if t is not None and t.requires_grad]
    if not all(isinstance(o, torch.Tensor) and o.requires_grad for o in outs):
        fail(f"{kind}_cell's output does not require grad when its inputs do: build it from "
             f"differentiable torch operations (no .detach(), .item() or in-place writes).")
    got = torch.autograd.grad(outs, inputs, upstream, allow_unused=True)
    x2, h2, c2 = (t.detach().clone().requires_grad_(True) for t in (x, h, c))
    ref_out = cell(x2, (h2, c2)) if kind == "lstm" else (cell(x2, h2),)
    names = ["x", "h", "c"] + ["W_ih", "W_hh", "b_ih", "b_hh"]
    params = [x2, h2, c2] + [p for p in _weights(cell)]
    ref_inputs = [p for p, t in zip(params, (x, h, c) + weights) if t is not None and t.requires_grad]
    used_names = [n for n, t in zip(names, (x, h, c) + weights) if t is not None and t.requires_grad]
    expected = torch.autograd.grad(ref_out, ref_inputs, upstream, allow_unused=True)
    for name, a, b in zip(used_names, got, expected):
        if b is None:
            continue
        a = torch.zeros_like(b) if a is None else a
        assert_close(a, b, rtol=1e-7, atol=1e-7,
                     what=f"the gradient of {kind}_cell's output with respect to {name}")


@given(case=cell_cases("rnn"))
def test_rnn_cell_matches_RNNCell(case):
    """Does rnn_cell equal nn.RNNCell with the same weights (with and without biases)?"""
    _check_cell("rnn", *case)


@given(case=cell_cases("rnn"))
@settings(max_examples=examples(8))
def test_rnn_cell_is_differentiable(case):
    """Do autograd's gradients through rnn_cell equal those through nn.RNNCell?"""
    _check_cell_gradients("rnn", *case)


@given(case=cell_cases("lstm"))
def test_lstm_cell_matches_LSTMCell(case):
    """Does lstm_cell equal nn.LSTMCell with the same weights (gate order i, f, g, o)?"""
    _check_cell("lstm", *case)


@given(case=cell_cases("lstm"))
@settings(max_examples=examples(8))
def test_lstm_cell_is_differentiable(case):
    """Do autograd's gradients through lstm_cell equal those through nn.LSTMCell?"""
    _check_cell_gradients("lstm", *case)


@given(case=cell_cases("gru"))
def test_gru_cell_matches_GRUCell(case):
    """Does gru_cell equal nn.GRUCell with the same weights (gate order r, z, n)?"""
    _check_cell("gru", *case)


@given(case=cell_cases("gru"))
@settings(max_examples=examples(8))
def test_gru_cell_is_differentiable(case):
    """Do autograd's gradients through gru_cell equal those through nn.GRUCell?"""
    _check_cell_gradients("gru", *case)


# --- rnn_forward --------------------------------------------------------------------------------

def _loop(x, h0, cell):
    hs, h = [], h0
    for t in range(x.shape[0]):
        h = cell(x[t], h)
        hs.append(h)
    return (torch.stack(hs) if hs else h0.new_empty((0, *h0.shape))), h


@st.composite
def sequence_cases(draw, min_t=0, max_t=6, dtype=None):
    t, b = draw(st.integers(min_t, max_t)), draw(st.integers(1, 3))
    d, h = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    dtype = draw(ds.dtypes()) if dtype is None else dtype
    bias = dtype == torch.float64 or draw(st.booleans())
    cell = _make_cell("rnn", d, h, bias, dtype, draw(st.integers(0, 1000)))
    x = draw(ds.tensors((t, b, d), dtype, min_value=-2, max_value=2))
    h0 = draw(ds.tensors((b, h), dtype, min_value=-1, max_value=1))
    return cell, x, h0


@given(case=sequence_cases())
def test_rnn_forward_matches_unrolled_RNNCell(case):
    """Does rnn_forward return every state (T, B, H) and the last one, T = 0 included?"""
    cell, x, h0 = case
    weights = tuple(p.detach() if p is not None else None for p in _weights(cell))
    with torch.no_grad(), forbidden_calls(*_FORBIDDEN["rnn"], what="rnn_forward",
                                          why="unroll your own cell in a loop over time"):
        got = mod.rnn_forward(x, h0, *weights)
    with torch.no_grad():
        expected = _loop(x, h0, cell)
    if not isinstance(got, tuple) or len(got) != 2:
        fail(f"rnn_forward returned {type(got).__name__}; expected a tuple (hs, h_last).")
    rtol, atol = _tol(x.dtype)
    what = f"rnn_forward(x {tuple(x.shape)}, h0 {tuple(h0.shape)}, ...)"
    assert_close(got[0], expected[0], rtol=rtol, atol=atol, what=f"{what}[0] (all states)")
    assert_close(got[1], expected[1], rtol=rtol, atol=atol, what=f"{what}[1] (the last state)")


def test_rnn_forward_empty_sequence():
    """For T = 0, does rnn_forward return an empty (0, B, H) tensor and h0 itself?"""
    cell = _make_cell("rnn", 3, 4, True, torch.float32, 0)
    x, h0 = torch.zeros(0, 2, 3), torch.randn(2, 4)
    with torch.no_grad():
        got = mod.rnn_forward(x, h0, *_weights(cell))
    if not isinstance(got, tuple) or len(got) != 2:
        fail(f"rnn_forward returned {type(got).__name__}; expected a tuple (hs, h_last).")
    assert_equal(got[0], torch.zeros(0, 2, 4), what="rnn_forward(x of shape (0, 2, 3), h0)[0] "
                 "(no steps: an empty (0, B, H) tensor; torch.stack of an empty list fails)")
    assert_equal(got[1], h0, what="rnn_forward(x of shape (0, 2, 3), h0)[1] (no steps: h0)")


@given(case=sequence_cases(min_t=1, max_t=5, dtype=torch.float64))
@settings(max_examples=examples(8))
def test_rnn_forward_is_differentiable(case):
    """Does autograd flow through rnn_forward back to h0 and the weights as through nn.RNNCell?"""
    cell, x, h0 = case
    weights = [p.detach().clone().requires_grad_(True) for p in _weights(cell)]
    h0g = h0.clone().requires_grad_(True)
    hs, _ = mod.rnn_forward(x, h0g, *weights)
    if not isinstance(hs, torch.Tensor) or not hs.requires_grad:
        fail("rnn_forward's states do not require grad when h0 and the weights do: stack the "
             "states with torch.stack instead of writing into a preallocated tensor under "
             "no_grad or with .detach().")
    upstream = torch.linspace(-1, 1, hs.numel(), dtype=torch.float64).view(hs.shape)
    got = torch.autograd.grad((hs * upstream).sum(), [h0g] + weights)
    h0r = h0.clone().requires_grad_(True)
    ref_hs, _ = _loop(x, h0r, cell)
    expected = torch.autograd.grad((ref_hs * upstream).sum(), [h0r] + list(cell.parameters()))
    for name, a, b in zip(["h0", "W_ih", "W_hh", "b_ih", "b_hh"], got, expected):
        assert_close(a, b, rtol=1e-7, atol=1e-7, what=f"the gradient through rnn_forward to {name}")


# --- rnn_backward -------------------------------------------------------------------------------

_KEYS = ("x", "h0", "W_ih", "W_hh", "b_ih", "b_hh")


def _bptt_oracle(dhs, x, h0, params, cut=False):
    leaves = [x.clone().requires_grad_(True), h0.clone().requires_grad_(True)] + [
        p.clone().requires_grad_(True) for p in params]
    xs, h, (w_ih, w_hh, b_ih, b_hh) = leaves[0], leaves[1], leaves[2:]
    hs = []
    for t in range(x.shape[0]):
        prev = h.detach() if cut else h
        h = torch.tanh(xs[t] @ w_ih.T + b_ih + prev @ w_hh.T + b_hh)
        hs.append(h)
    if not hs:
        return {k: torch.zeros_like(leaf) for k, leaf in zip(_KEYS, leaves)}
    total = sum((a * b).sum() for a, b in zip(hs, dhs))
    grads = torch.autograd.grad(total, leaves, allow_unused=True)
    return {k: (torch.zeros_like(leaf) if g is None else g) for k, g, leaf in zip(_KEYS, grads, leaves)}


@st.composite
def bptt_cases(draw, min_t=1, max_t=12):
    t, b = draw(st.integers(min_t, max_t)), draw(st.integers(1, 3))
    d, h = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    g = torch.Generator().manual_seed(draw(st.integers(0, 10_000)))
    scale = draw(st.sampled_from([0.5, 1.0, 1.5]))

    def rnd(*shape, s=1.0):
        return (torch.rand(shape, generator=g, dtype=torch.float64) * 2 - 1) * s

    params = (rnd(h, d, s=scale), rnd(h, h, s=scale), rnd(h, s=0.5), rnd(h, s=0.5))
    return rnd(t, b, h), rnd(t, b, d, s=2.0), rnd(b, h), params


def _student_bptt(dhs, x, h0, params):
    with by_hand("rnn_backward", why="derive the gradients through time by hand"):
        return mod.rnn_backward(dhs, x, h0, *params)


def _check_bptt(dhs, x, h0, params):
    got = _student_bptt(dhs, x, h0, params)
    if not isinstance(got, dict) or set(got) != set(_KEYS):
        keys = sorted(got) if isinstance(got, dict) else type(got).__name__
        fail(f"rnn_backward returned {keys}; expected a dict with the keys {list(_KEYS)}.")
    expected = _bptt_oracle(dhs, x, h0, params)
    what = f"rnn_backward for T={x.shape[0]}, B={x.shape[1]}, D={x.shape[2]}, H={h0.shape[1]}"
    close = {k: isinstance(got[k], torch.Tensor) and got[k].shape == expected[k].shape
             and close_values(got[k], expected[k], rtol=1e-7, atol=1e-7) for k in _KEYS}
    if not all(close.values()) and x.shape[0] > 1:
        cut = _bptt_oracle(dhs, x, h0, params, cut=True)
        if all(isinstance(got[k], torch.Tensor) and got[k].shape == cut[k].shape
               and close_values(got[k], cut[k], rtol=1e-7, atol=1e-7) for k in ("W_ih", "x")):
            fail(f"{what}: your gradients ignore what flows back through h_(t-1): the total "
                 f"gradient at h_t is dhs[t] PLUS the gradient arriving from step t+1 "
                 f"(da_(t+1) @ W_hh). Carry it backwards through the loop.")
    if not close["h0"] and all(close[k] for k in _KEYS if k != "h0"):
        fail(f"{what}: every gradient is right except the one for h0. After the loop over time, "
             f"the gradient reaching h0 is da_1 @ W_hh (the same carry as for any h_(t-1)).")
    for k in _KEYS:
        assert_close(got[k], expected[k], rtol=1e-7, atol=1e-7, what=f'{what}: grads["{k}"]')


@given(case=bptt_cases())
@settings(max_examples=examples(25))
def test_rnn_backward_matches_autograd(case):
    """Does rnn_backward equal autograd's gradients in float64, for T from 1 to 12?"""
    _check_bptt(*case)


@given(case=bptt_cases(min_t=1, max_t=1))
@settings(max_examples=examples(6))
def test_rnn_backward_single_step(case):
    """Is rnn_backward right for a sequence of one step (h0 feeds the only step)?"""
    _check_bptt(*case)


def test_rnn_backward_empty_sequence():
    """Does rnn_backward return all-zero gradients of the right shapes when T = 0?"""
    g = torch.Generator().manual_seed(3)
    params = tuple(torch.randn(s, generator=g, dtype=torch.float64) for s in ((4, 3), (4, 4), (4,), (4,)))
    x, h0, dhs = torch.zeros(0, 2, 3, dtype=torch.float64), torch.randn(2, 4, generator=g,
                                                                        dtype=torch.float64), torch.zeros(0, 2, 4, dtype=torch.float64)
    _check_bptt(dhs, x, h0, params)


# --- detach_state -------------------------------------------------------------------------------

def test_detach_state_keeps_the_structure():
    """Does detach_state return the same nesting with every tensor detached, input untouched?"""
    leaf = torch.randn(2, 3, requires_grad=True)
    h, c = leaf * 2, leaf + 1
    state = (h, [c, None, (h * 3,)], 5)
    got = mod.detach_state(state)

    def walk(a, b, path):
        if isinstance(b, torch.Tensor):
            if not isinstance(a, torch.Tensor):
                fail(f"detach_state: at {path} got {type(a).__name__}, expected a tensor.")
            if a.requires_grad or a.grad_fn is not None:
                fail(f"detach_state: the tensor at {path} still requires grad: use .detach().")
            if a.data_ptr() != b.data_ptr() or not equal_values(a, b.detach()):
                fail(f"detach_state: the tensor at {path} is not the same data (use .detach(), "
                     f"which shares memory, rather than a copy or new values).")
            return
        if isinstance(b, (tuple, list)):
            if type(a) is not type(b) or len(a) != len(b):
                fail(f"detach_state: at {path} got {type(a).__name__} of length "
                     f"{len(a) if hasattr(a, '__len__') else '?'}, expected a "
                     f"{type(b).__name__} of length {len(b)} (tuples stay tuples, lists stay lists).")
            for i, (x, y) in enumerate(zip(a, b)):
                walk(x, y, f"{path}[{i}]")
            return
        if a != b:
            fail(f"detach_state: at {path} got {a!r}, expected {b!r} (non-tensors are returned as they are).")

    walk(got, state, "state")
    if h.grad_fn is None or c.grad_fn is None or state[1][2][0].grad_fn is None:
        fail("detach_state modified its input: the caller's tensors lost their graph. Return "
             "new detached tensors (.detach()), never .detach_() in place.")
    assert_equal(mod.detach_state(None), None, what="detach_state(None)")
    single = mod.detach_state(h)
    if not isinstance(single, torch.Tensor) or single.requires_grad:
        fail("detach_state(tensor) must return the detached tensor.")


def test_detach_state_for_an_lstm_state():
    """Does detach_state turn an LSTM's (h, c) tuple into a tuple of detached tensors?"""
    lstm = nn.LSTM(3, 4)
    _, state = lstm(torch.randn(5, 2, 3))
    got = mod.detach_state(state)
    if type(got) is not tuple or len(got) != 2:
        fail(f"detach_state((h, c)) returned {type(got).__name__}; expected a tuple (h, c).")
    for name, a, b in zip("hc", got, state):
        if not isinstance(a, torch.Tensor) or a.requires_grad or not equal_values(a, b):
            fail(f"detach_state((h, c)): {name} should equal the input's {name}, detached.")
        if b.grad_fn is None:
            fail("detach_state modified its input in place (use .detach(), not .detach_()).")


# --- tbptt_train --------------------------------------------------------------------------------

class _LM(nn.Module):
    """A tiny time-first sequence model: (x_chunk, state) -> (output, state)."""

    def __init__(self, kind: str, d: int, h: int, out: int) -> None:
        super().__init__()
        self.rnn = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[kind](d, h)
        self.out = nn.Linear(h, out)

    def forward(self, x, state):
        ys, state = self.rnn(x, state)
        return self.out(ys), state


class _Recorder(nn.Module):
    """Wraps a model and records the state it is given at every call."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.calls: list[tuple[int, object]] = []

    def forward(self, x, state):
        self.calls.append((x.shape[0], state))
        out, new_state = self.inner(x, state)
        self.returned = new_state
        return out, new_state


def _tbptt_oracle(model, inputs, targets, loss_fn, optimizer, k):
    state, losses = None, []
    for start in range(0, inputs.shape[0], k):
        optimizer.zero_grad()
        out, state = model(inputs[start:start + k], state)
        loss = loss_fn(out, targets[start:start + k])
        loss.backward()
        optimizer.step()
        state = tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()
        losses.append(loss.item())
    return losses


def _run_tbptt(model, inputs, targets, loss_fn, optimizer, k):
    try:
        return mod.tbptt_train(model, inputs, targets, loss_fn, optimizer, k)
    except RuntimeError as exc:
        if "second time" in str(exc) or "inplace operation" in str(exc):
            fail(f"tbptt_train: backward reached into the previous chunk's graph ({exc!s:.80}...). "
                 f"The state handed to the next chunk must be detached (detach_state) after each "
                 f"optimizer step, so each chunk's backward stops at its own first step.")
        raise


def _tbptt_setup(kind, t, b, k, seed):
    torch.manual_seed(seed)
    model = _LM(kind, 3, 5, 2).double()
    g = torch.Generator().manual_seed(seed)
    inputs = torch.randn(t, b, 3, generator=g, dtype=torch.float64)
    targets = torch.randn(t, b, 2, generator=g, dtype=torch.float64)
    return model, inputs, targets


@given(kind=st.sampled_from(["rnn", "lstm", "gru"]), t=st.integers(1, 10), b=st.integers(1, 3),
       k=st.integers(1, 5), seed=st.integers(0, 100))
@settings(max_examples=examples(15))
def test_tbptt_train_matches_truncated_backprop(kind, t, b, k, seed):
    """Do tbptt_train's chunk losses and final weights equal truncated BPTT done right?"""
    model, inputs, targets = _tbptt_setup(kind, t, b, k, seed)
    ref_model = copy.deepcopy(model)
    stale = torch.Generator().manual_seed(seed + 1)
    for p, q in zip(model.parameters(), ref_model.parameters()):  # gradients left by earlier work
        p.grad = torch.randn(p.shape, generator=stale, dtype=p.dtype)
        q.grad = p.grad.clone()
    loss_fn = nn.functional.mse_loss
    got = _run_tbptt(model, inputs, targets, loss_fn, torch.optim.SGD(model.parameters(), lr=0.1), k)
    expected = _tbptt_oracle(ref_model, inputs, targets, loss_fn,
                             torch.optim.SGD(ref_model.parameters(), lr=0.1), k)
    what = f"tbptt_train (nn.{kind.upper()}, T={t}, k={k})"
    if not isinstance(got, list) or len(got) != len(expected) or not all(
            isinstance(v, float) for v in got):
        fail(f"{what} returned {got!r}; expected a list of {len(expected)} Python floats, one "
             f"loss per chunk of k steps (the last chunk may be shorter).")
    assert_close(got, expected, rtol=1e-7, atol=1e-7,
                 what=f"{what}, parameters holding stale gradients on entry: the chunk losses")
    for (name, p), q in zip(model.named_parameters(), ref_model.parameters()):
        if not close_values(p, q, rtol=1e-7, atol=1e-7):
            fail(f"{what}: after training from parameters that held stale gradients, the "
                 f"parameter {name} differs from truncated BPTT (largest difference "
                 f"{float((p - q).abs().max()):.3g}). Per chunk: first zero the gradients, forward with the carried state, backward through every step of "
                 f"the chunk, one optimizer step, then detach the state (never inside a chunk, "
                 f"never reset it to None).")


@given(kind=st.sampled_from(["rnn", "lstm"]), t=st.integers(1, 9), k=st.integers(1, 4))
@settings(max_examples=examples(8))
def test_tbptt_train_carries_a_detached_state(kind, t, k):
    """Is each chunk fed the previous chunk's final state, detached, in chunks of k steps?"""
    model, inputs, targets = _tbptt_setup(kind, t, 2, k, 0)
    rec = _Recorder(model)
    _run_tbptt(rec, inputs, targets, nn.functional.mse_loss,
               torch.optim.SGD(rec.parameters(), lr=0.05), k)
    sizes = [n for n, _ in rec.calls]
    expected_sizes = [min(k, t - s) for s in range(0, t, k)]
    if sizes != expected_sizes:
        fail(f"tbptt_train with T={t}, k={k} called the model on chunks of {sizes} steps; "
             f"expected {expected_sizes} (consecutive chunks of k, the last one shorter).")
    if rec.calls[0][1] is not None:
        fail("tbptt_train must call the model with state None for the first chunk.")
    for i, (_, state) in enumerate(rec.calls[1:], start=1):
        tensors = list(state) if isinstance(state, (tuple, list)) else [state]
        if state is None or not all(isinstance(s, torch.Tensor) for s in tensors):
            fail(f"tbptt_train passed state {state!r} to chunk {i}: the state must carry over "
                 f"from the previous chunk (only the first chunk starts from None).")
        if any(s.requires_grad for s in tensors):
            fail(f"the state given to chunk {i} still requires grad: detach it (detach_state) "
                 f"after each chunk's optimizer step, so backward stops at the chunk boundary.")
    try:
        mod.tbptt_train(rec, inputs, targets, nn.functional.mse_loss,
                        torch.optim.SGD(rec.parameters(), lr=0.05), 0)
    except ValueError:
        return
    except Exception as exc:  # noqa: BLE001
        fail(f"tbptt_train(..., k=0) raised {type(exc).__name__}; expected ValueError.")
    fail("tbptt_train(..., k=0) returned without error; expected ValueError.")


# --- clip_grad_norm -----------------------------------------------------------------------------

_CLIP_FORBIDDEN = ("torch.nn.utils.clip_grad_norm_", "torch.nn.utils.clip_grad_norm",
                   "torch.nn.utils.clip_grads_with_norm_", "torch.nn.utils.get_total_norm",
                   "torch.nn.utils.clip_grad_value_")


def _clip_student(params, max_norm):
    with forbidden_calls(*_CLIP_FORBIDDEN, what="clip_grad_norm",
                         why="compute the global norm and scale the gradients yourself"):
        return mod.clip_grad_norm(params, max_norm)


@st.composite
def clip_cases(draw):
    n = draw(st.integers(1, 4))
    g = torch.Generator().manual_seed(draw(st.integers(0, 10_000)))
    params = []
    for i in range(n):
        shape = draw(ds.shapes(min_dims=1, max_dims=2, max_side=4))
        p = torch.zeros(shape, dtype=torch.float64, requires_grad=True)
        if i == 0 or draw(st.integers(0, 4)) > 0:
            scale = 10 ** draw(st.floats(-1, 3))
            p.grad = torch.randn(shape, generator=g, dtype=torch.float64) * scale
        params.append(p)
    total = math.sqrt(sum(float((p.grad ** 2).sum()) for p in params if p.grad is not None))
    assert total > 0
    max_norm = total * draw(st.sampled_from([0.01, 0.3, 0.9, 1.5, 10.0]))
    return params, max_norm


def _clone(params):
    out = []
    for p in params:
        q = p.detach().clone().requires_grad_(True)
        q.grad = None if p.grad is None else p.grad.clone()
        out.append(q)
    return out


def _check_clip(params, max_norm, as_generator=False):
    mine, ref = _clone(params), _clone(params)
    got = _clip_student((p for p in mine) if as_generator else mine, max_norm)
    expected = nn.utils.clip_grad_norm_(ref, max_norm).item()
    shapes = [tuple(p.shape) for p in params]
    what = f"clip_grad_norm({len(params)} tensors of shapes {shapes}, max_norm={max_norm:.4g})"
    if as_generator:
        what += " given a generator"
    if not isinstance(got, float):
        fail(f"{what} returned {type(got).__name__}; expected a Python float (float(total)).")
    grads_close = all((a.grad is None and b.grad is None) or (
        a.grad is not None and b.grad is not None
        and close_values(a.grad, b.grad, rtol=1e-5, atol=1e-12)) for a, b in zip(mine, ref))
    if not grads_close:
        per_tensor = [None if p.grad is None else
                      p.grad * min(1.0, max_norm / (float(p.grad.norm()) + 1e-6)) for p in params]
        if all(a.grad is None or close_values(a.grad, b, rtol=1e-5, atol=1e-12)
               for a, b in zip(mine, per_tensor)):
            fail(f"{what}: you clipped each tensor by its own norm. The norm is global: the "
                 f"L2 norm of all gradients together, and every gradient is scaled by the same "
                 f"factor max_norm / (total + 1e-6).")
        if all(a.grad is None or equal_values(a.grad, b.grad) for a, b in zip(mine, params)):
            fail(f"{what} left the gradients unchanged; they must be scaled in place "
                 f"(p.grad.mul_(scale)) when the total norm exceeds max_norm"
                 + (" (a generator can be iterated only once: make a list first)." if as_generator else "."))
    for i, (a, b) in enumerate(zip(mine, ref)):
        if b.grad is None:
            if a.grad is not None:
                fail(f"{what}: parameter {i} had no gradient and must keep grad None.")
            continue
        assert_close(a.grad, b.grad, rtol=1e-5, atol=1e-12, what=f"{what}: the gradient of parameter {i}")
    assert_close(got, expected, rtol=1e-5, atol=1e-12,
                 what=f"{what}: the returned total norm (before clipping)")


@given(case=clip_cases())
def test_clip_grad_norm_matches_torch(case):
    """Does clip_grad_norm scale gradients and return the norm exactly like clip_grad_norm_?"""
    _check_clip(*case)


def test_clip_grad_norm_is_global():
    """Is the norm taken over all gradients together, with one scale for every tensor?"""
    a = _with_grad([3.0, 0.0])
    b = _with_grad([4.0])
    _check_clip([a, b], 4.5)


def _with_grad(values):
    p = torch.zeros(len(values), dtype=torch.float64, requires_grad=True)
    p.grad = torch.tensor(values, dtype=torch.float64)
    return p


def test_clip_grad_norm_reads_a_generator_once():
    """Does clip_grad_norm work on model.parameters(), a generator that can be read only once?"""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)).double()
    model(torch.randn(5, 3, dtype=torch.float64)).pow(2).sum().mul(100).backward()
    params = list(model.parameters())
    _check_clip(params, 0.5, as_generator=True)


def test_clip_grad_norm_without_gradients():
    """Does clip_grad_norm return 0.0 when no tensor has a gradient, and accept a single tensor?"""
    p = torch.zeros(3, requires_grad=True)
    got = _clip_student([p], 1.0)
    assert_close(got, 0.0, rtol=0, atol=0, what="clip_grad_norm([a tensor without grad], 1.0)")
    q = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    q.grad = torch.tensor([6.0, 8.0], dtype=torch.float64)
    got = _clip_student(q, 5.0)
    assert_close(got, 10.0, rtol=1e-9, atol=0, what="clip_grad_norm(a single tensor with grad [6, 8], 5.0)")
    assert_close(q.grad, torch.tensor([3.0, 4.0], dtype=torch.float64), rtol=1e-5, atol=1e-9,
                 what="the gradient after clip_grad_norm(a single tensor with grad [6, 8], 5.0)")
