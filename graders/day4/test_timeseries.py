"""Graders for day4/timeseries.py: windows as views, standardisation, naive forecast, LSTM.

Oracles: ``Tensor.unfold`` for the windows, the formulas in float64 for the standardisation and
the naive forecast, ``nn.LSTM``/``nn.Linear`` with copied weights for the forecaster, and the
naive forecast's error on the bundled series for the training task.
"""

from __future__ import annotations

import math
import time

import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st
from torch import nn

from graders import strategies as ds
from graders import student
from graders.budget import spent
from graders.checks import assert_close, assert_equal, close_values, equal_values, fail, plain
from graders.profiles import examples

mod = student("day4.timeseries")

CPU_BUDGET_S = 60.0
RATIO_BAR = 0.5
INPUT_LEN, HORIZON, TRAIN_FRAC = 24, 6, 0.8


def _expect_value_error(fn, *args, what: str) -> None:
    try:
        out = fn(*args)
    except ValueError:
        return
    except NotImplementedError:
        raise
    except Exception as exc:  # noqa: BLE001
        fail(f"{what} raised {type(exc).__name__}: {exc}; expected ValueError.")
    fail(f"{what} returned {type(out).__name__}; expected ValueError.")


def _describe(t: torch.Tensor) -> str:
    """``a (6, 2) float32 series``, with its strides and storage offset when not contiguous."""
    text = f"a {tuple(t.shape)} {str(t.dtype).replace('torch.', '')} series"
    if not t.is_contiguous() or t.storage_offset():
        text += f" (strides {tuple(t.stride())}, storage offset {t.storage_offset()})"
    return text


# --- make_windows -----------------------------------------------------------------------------

@st.composite
def window_cases(draw):
    input_len = draw(st.integers(1, 5), label="input_len")
    horizon = draw(st.integers(1, 4), label="horizon")
    step = draw(st.integers(1, 4), label="step")
    length = draw(st.integers(input_len + horizon, input_len + horizon + 9), label="T")
    features = draw(st.sampled_from([None, 1, 2, 3]), label="F")
    shape = (length,) if features is None else (length, features)
    dtype = draw(st.sampled_from([torch.float32, torch.float64, torch.int64]))
    series = draw(ds.tensors(shape, dtype, min_value=-50, max_value=50), label="series")
    return series, input_len, horizon, step


def _windows_oracle(series, input_len, horizon, step):
    values = series.unsqueeze(-1) if series.dim() == 1 else series
    windows = values.unfold(0, input_len + horizon, step).transpose(1, 2)
    return windows[:, :input_len], windows[:, input_len:]


@given(case=window_cases())
@example(case=(torch.arange(5.0), 3, 2, 1))
@example(case=(torch.arange(12.0).reshape(6, 2), 2, 1, 3))
def test_make_windows_matches_unfold(case):
    """Are X (N, L, F) and Y (N, H, F) the windows of series.unfold, N = (T - L - H) // step + 1?"""
    series, input_len, horizon, step = case
    what = f"make_windows({_describe(series)}, input_len={input_len}, horizon={horizon}, step={step})"
    got = mod.make_windows(series, input_len, horizon, step)
    if not isinstance(got, tuple) or len(got) != 2:
        fail(f"{what} returned {type(got).__name__}; expected a tuple (X, Y).")
    x_exp, y_exp = _windows_oracle(series, input_len, horizon, step)
    n = x_exp.shape[0]
    for name, value, expected in (("X", got[0], x_exp), ("Y", got[1], y_exp)):
        if isinstance(value, torch.Tensor) and value.dim() == 3 and value.shape[0] != n:
            fail(f"{what} gave {value.shape[0]} windows in {name}; expected N = (T - input_len "
                 f"- horizon) // step + 1 = ({series.shape[0]} - {input_len} - {horizon}) // "
                 f"{step} + 1 = {n} (window n starts at n * step).")
        if series.dim() == 1 and isinstance(value, torch.Tensor) and value.dim() == 2:
            fail(f"{what} gave {name} of shape {tuple(value.shape)}; a 1-D series counts as F = "
                 f"1, so expected {tuple(expected.shape)} (unsqueeze the last dimension).")
        where = ("X[n] = series[n*step : n*step + input_len]" if name == "X" else
                 "Y[n] = series[n*step + input_len : n*step + input_len + horizon], the steps "
                 "right after X[n]")
        assert_equal(value, expected, what=f"{name} of {what} ({where})")


@given(case=window_cases())
def test_make_windows_returns_views(case):
    """Do X and Y share series' storage (views, no copy), whatever its layout?"""
    series, input_len, horizon, step = case
    what = f"make_windows({_describe(series)}, {input_len}, {horizon}, step={step})"
    x, y = mod.make_windows(series, input_len, horizon, step)
    base = series.untyped_storage().data_ptr()
    for name, value in (("X", x), ("Y", y)):
        if value.untyped_storage().data_ptr() != base:
            fail(f"{name} of {what} is a copy, not a view of series: build it with "
                 f"series.unfold(0, input_len + horizon, step) (or as_strided) and views "
                 f"(unsqueeze, transpose, slicing); torch.stack, cat, clone and contiguous copy.")


def test_make_windows_rejects_bad_sizes():
    """Do a too-short series, sizes below 1 and a 3-D series raise ValueError?"""
    s = torch.arange(10.0)
    for args in ((s, 8, 3, 1), (s, 0, 2, 1), (s, 3, 0, 1), (s, 3, 2, 0), (s, -1, 2, 1),
                 (s.reshape(2, 5, 1), 1, 1, 1), (torch.zeros(0, 2), 1, 1, 1)):
        what = (f"make_windows({_describe(args[0])}, input_len={args[1]}, horizon={args[2]}, "
                f"step={args[3]})")
        _expect_value_error(mod.make_windows, *args, what=what)
    x, y = mod.make_windows(s, 7, 3, 5)  # exactly one window, and a remainder too short
    assert_equal((tuple(x.shape), tuple(y.shape)), ((1, 7, 1), (1, 3, 1)),
                 what="the shapes of make_windows(arange(10.), 7, 3, step=5)")


# --- standardize_split ------------------------------------------------------------------------

@st.composite
def split_cases(draw):
    length = draw(st.integers(2, 12), label="T")
    features = draw(st.sampled_from([None, 1, 2, 3]), label="F")
    dtype = draw(ds.dtypes())
    frac = draw(st.sampled_from([0.5, 0.8, 0.29, 0.7, 0.33, 0.9, 0.1, 0.6]), label="train_frac")
    n_train = math.floor(frac * length)
    if not 0 < n_train < length:
        frac = 0.5
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**16)))
    shape = (length,) if features is None else (length, features)
    base = torch.randn(shape, generator=g, dtype=torch.float64) * 3 + 2
    special = draw(st.sampled_from(["none", "constant", "tiny"]))
    column = base if features is None else base[:, 0]
    if special == "constant":
        column.fill_(4.0)
    elif special == "tiny" and dtype == torch.float64:
        column.copy_(5.0 + 1e-6 * torch.arange(length, dtype=torch.float64))
    series = draw(ds.layout(base.to(dtype)), label="series")
    return series, frac


def _split_oracle(series, frac):
    n = math.floor(frac * series.shape[0])
    values = series.double()
    mean = values[:n].mean(0)
    std = values[:n].std(0, correction=0)
    std = torch.where(std == 0, torch.ones_like(std), std)
    cast = lambda t: t.to(series.dtype)  # noqa: E731
    return (cast((values[:n] - mean) / std), cast((values[n:] - mean) / std), cast(mean),
            cast(std))


@given(case=split_cases())
@example(case=(torch.arange(100.0), 0.29))
@example(case=(torch.tensor([[1.0, 2.0], [3.0, 2.0], [5.0, 2.0], [100.0, -7.0]]), 0.75))
def test_standardize_split_matches_the_formula(case):
    """Are both parts standardised with the training part's mean and population std (0 -> 1)?"""
    series, frac = case
    what = f"standardize_split({_describe(series)}, train_frac={frac})"
    got = mod.standardize_split(series, frac)
    expected = _split_oracle(series, frac)
    if not isinstance(got, tuple) or len(got) != 4:
        fail(f"{what} returned {type(got).__name__}; expected (train_std, test_std, mean, std).")
    n = expected[0].shape[0]
    if isinstance(got[0], torch.Tensor) and got[0].shape[:1] != expected[0].shape[:1]:
        fail(f"{what} gave a training part of {got[0].shape[0]} steps; expected "
             f"math.floor({frac} * {series.shape[0]}) = {n} (floor, not round: {frac} * "
             f"{series.shape[0]} = {frac * series.shape[0]!r}).")
    tol = dict(rtol=1e-5, atol=1e-5) if series.dtype == torch.float32 else dict(rtol=1e-7,
                                                                                  atol=1e-7)
    values = series.double()
    if isinstance(got[2], torch.Tensor) and got[2].shape == expected[2].shape and not \
            close_values(got[2].double(), expected[2].double(), **tol) and close_values(
                got[2].double(), values.mean(0), **tol):
        fail(f"{what} returned mean {got[2].tolist()}, the mean of the whole series; use the "
             f"training part only (the first {n} steps): the test part must not leak into "
             f"the statistics.")
    if isinstance(got[3], torch.Tensor) and got[3].shape == expected[3].shape:
        unbiased = values[:n].std(0, correction=1) if n > 1 else None
        if unbiased is not None and close_values(got[3].double(), unbiased, **tol) and not \
                close_values(unbiased, expected[3].double(), **tol):
            fail(f"{what} returned std {got[3].tolist()}, the unbiased (n - 1) estimate; use "
                 f"the population std (unbiased=False / correction=0): {expected[3].tolist()}.")
    names = ("train_std", "test_std", "mean", "std")
    formulas = (f"(series[:{n}] - mean) / std", f"(series[{n}:] - mean) / std, with the training "
                f"part's mean and std", f"the per-feature mean of the training part series[:{n}]",
                f"the per-feature population std of the training part series[:{n}], 0 -> 1")
    raw_std = values[:n].std(0, correction=0)
    for index in (2, 3, 0, 1):  # statistics first: their messages name the mistake
        name, value, exp = names[index], got[index], expected[index]
        same_shape = isinstance(value, torch.Tensor) and value.shape == exp.shape
        if name == "std" and same_shape:
            special = (raw_std == 0) | (raw_std < 1e-4)
            wrong = ~torch.isclose(plain(value).double(), exp.double(), **tol)
            if bool((wrong & special).any()):
                fail(f"{what} returned std {value.tolist()}; expected {exp.tolist()}: only an "
                     f"exact 0 becomes 1, and a tiny std stays as it is (no epsilon, no clamp).")
        if series.dtype == torch.float64 and same_shape and value.dtype == torch.float64 and \
                not close_values(value, exp, **tol):
            in_float32 = _split_oracle(series.float(), frac)[index].double()
            if close_values(value, in_float32, rtol=1e-5, atol=1e-5):
                fail(f"{name} of {what} is {value.tolist()}, the formula computed in float32; "
                     f"expected {exp.tolist()} (tolerance 1e-7): compute a float64 series in "
                     f"float64, without a float32 step (.float()) on the way.")
        assert_close(value, exp, **tol, what=f"{name} of {what} ({formulas[index]})")


def test_standardize_split_rejects_empty_parts():
    """Does a split with an empty training or test part (or a 3-D series) raise ValueError?"""
    s = torch.arange(10.0)
    for series, frac in ((s, 0.05), (s, 1.0), (s, 0.0), (s[:1], 0.5), (s.reshape(2, 5, 1), 0.5)):
        _expect_value_error(mod.standardize_split, series, frac,
                            what=f"standardize_split({_describe(series)}, train_frac={frac})")


# --- naive_forecast ---------------------------------------------------------------------------

@given(data=st.data(), n=st.integers(0, 4), length=st.integers(1, 4), features=st.integers(1, 3),
       horizon=st.integers(1, 4), dtype=ds.dtypes())
@example(data=None, n=2, length=3, features=1, horizon=2, dtype=torch.float64)
def test_naive_forecast_repeats_the_last_value(data, n, length, features, horizon, dtype):
    """Is every forecast step the last observed value x[:, -1, :], shape (N, horizon, F)?"""
    if data is None:
        x = torch.tensor([[[1.0], [2.0], [5.0]], [[4.0], [-1.0], [0.5]]], dtype=dtype)
    else:
        x = data.draw(ds.tensors((n, length, features), dtype), label="x")
    what = f"naive_forecast(x of shape {tuple(x.shape)}, horizon={horizon})"
    got = mod.naive_forecast(x, horizon)
    expected = x[:, -1:, :].repeat(1, horizon, 1)
    wrong = {"repeats the first value of each window": x[:, :1, :].repeat(1, horizon, 1)}
    if dtype.is_floating_point:
        wrong["repeats the mean of each window"] = x.mean(1, keepdim=True).repeat(1, horizon, 1)
    if horizon <= length:
        wrong[f"returns the last horizon = {horizon} observed values x[:, -horizon:]"] = \
            x[:, length - horizon:]
    if isinstance(got, torch.Tensor) and got.shape == expected.shape and x.shape[0] > 0 and \
            length > 1 and not close_values(got, expected, rtol=1e-6, atol=1e-6):
        for mistake, value in wrong.items():
            if close_values(got, value, rtol=1e-6, atol=1e-6):
                fail(f"{what} {mistake}; the naive forecast repeats the last observed value, "
                     f"x[:, -1, :], at every one of the horizon steps.")
    assert_equal(got, expected, what=f"{what} (every step x[:, -1, :])")


def test_naive_forecast_rejects_bad_horizon():
    """Does a horizon below 1 raise ValueError?"""
    for horizon in (0, -2):
        _expect_value_error(mod.naive_forecast, torch.zeros(2, 3, 1), horizon,
                            what=f"naive_forecast(x, horizon={horizon})")


# --- LSTMForecaster ---------------------------------------------------------------------------

def _lstm_config(lstm: nn.LSTM) -> str:
    return (f"nn.LSTM(input_size={lstm.input_size}, hidden_size={lstm.hidden_size}, num_layers="
            f"{lstm.num_layers}, batch_first={lstm.batch_first}, bidirectional="
            f"{lstm.bidirectional}, proj_size={lstm.proj_size})")


def _parts(model, n_features, hidden, horizon, layers, what):
    """The grader's own nn.LSTM and nn.Linear holding the weights of the model's LSTM layers
    (one nn.LSTM, or several stacked, whatever their attribute names) and of its linear head."""
    if not isinstance(model, nn.Module):
        fail(f"{what} is a {type(model).__name__}; expected an nn.Module.")
    lstms = [m for m in model.modules() if isinstance(m, nn.LSTM)]
    heads = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not lstms or len(heads) != 1:
        fail(f"{what} has {len(lstms)} nn.LSTM and {len(heads)} nn.Linear submodules; expected "
             f"an nn.LSTM (batch_first=True) and a linear head, exactly one nn.Linear(hidden_size,"
             f" horizon * n_features), no hidden layer in the head (any attribute names).")
    expected = (f"nn.LSTM({n_features}, {hidden}, num_layers={layers}, batch_first=True)"
                f" (inputs are (N, L, F), batch first)")
    sizes = [n_features] + [hidden] * (len(lstms) - 1)
    for lstm, size in zip(lstms, sizes):
        config = (lstm.input_size, lstm.hidden_size, lstm.batch_first, lstm.bidirectional,
                  lstm.proj_size, lstm.bias)
        if config != (size, hidden, True, False, 0, lstms[0].bias):
            fail(f"{what} has {_lstm_config(lstm)}; expected {expected}.")
    if sum(lstm.num_layers for lstm in lstms) != layers:
        found = " and ".join(_lstm_config(lstm) for lstm in lstms)
        fail(f"{what} has {found}: {sum(lstm.num_layers for lstm in lstms)} layer(s) in all; "
             f"expected {expected}.")
    head = heads[0]
    if (head.in_features, head.out_features) != (hidden, horizon * n_features):
        fail(f"{what}'s head is nn.Linear({head.in_features}, {head.out_features}); expected "
             f"nn.Linear({hidden}, horizon * n_features = {horizon * n_features}).")
    oracle_lstm = nn.LSTM(n_features, hidden, num_layers=layers, batch_first=True,
                          bias=lstms[0].bias)
    state, below = {}, 0
    for lstm in lstms:  # weight_ih_l0 of a second stacked LSTM is the oracle's weight_ih_l1
        for key, value in lstm.state_dict().items():
            name, layer = key.rsplit("_l", 1)
            state[f"{name}_l{int(layer) + below}"] = value
        below += lstm.num_layers
    oracle_lstm.load_state_dict(state)
    oracle_head = nn.Linear(hidden, horizon * n_features, bias=head.bias is not None)
    oracle_head.load_state_dict(head.state_dict())
    return oracle_lstm.to(head.weight.dtype), oracle_head.to(head.weight.dtype)


@st.composite
def forecaster_cases(draw):
    features = draw(st.integers(1, 3), label="n_features")
    hidden = draw(st.integers(1, 6), label="hidden_size")
    horizon = draw(st.integers(1, 4), label="horizon")
    layers = draw(st.integers(1, 2), label="num_layers")
    shape = (draw(st.integers(1, 3), label="N"), draw(st.integers(1, 5), label="L"), features)
    x = draw(ds.tensors(shape, torch.float32, min_value=-3, max_value=3), label="x")
    return features, hidden, horizon, layers, x


@settings(max_examples=examples(20))
@given(case=forecaster_cases())
@example(case=(2, 3, 2, 2, torch.linspace(-1, 1, 2 * 4 * 2).reshape(2, 4, 2)))
def test_LSTMForecaster_matches_its_lstm_and_head(case):
    """Is forward head(top layer's output at the last step) reshaped to (N, horizon, F)?"""
    features, hidden, horizon, layers, x = case
    torch.manual_seed(0)
    what = f"LSTMForecaster({features}, {hidden}, {horizon}, num_layers={layers})"
    model = mod.LSTMForecaster(features, hidden, horizon, num_layers=layers)
    oracle_lstm, oracle_head = _parts(model, features, hidden, horizon, layers, what)
    model.eval()  # dropout between LSTM layers is allowed: forward is compared in eval mode
    with torch.no_grad():
        got = model(x)
        output, (h_n, _) = oracle_lstm(x)
        expected = oracle_head(output[:, -1]).reshape(len(x), horizon, features)
        wrong = {
            "the first layer's final state (h_n[0]): take the top layer's, output[:, -1] or "
            "h_n[-1]": oracle_head(h_n[0]).reshape(len(x), horizon, features),
            "the mean over time: take the output at the last time step, output[:, -1]":
                oracle_head(output.mean(1)).reshape(len(x), horizon, features),
            "the output at the first time step (output[:, 0]): take the one at the last, "
            "output[:, -1]": oracle_head(output[:, 0]).reshape(len(x), horizon, features),
            "the head's outputs reshaped to (N, F, H) and transposed: reshape to (N, H, F), "
            "the first F numbers are step 1": oracle_head(output[:, -1]).reshape(
                len(x), features, horizon).transpose(1, 2),
        }
    if isinstance(got, torch.Tensor) and got.shape == expected.shape and not close_values(
            got, expected, rtol=1e-5, atol=1e-6):
        for mistake, value in wrong.items():
            if close_values(got, value, rtol=1e-5, atol=1e-6):
                fail(f"{what}(x of shape {tuple(x.shape)}) forecasts from {mistake}.")
    assert_close(got, expected, rtol=1e-5, atol=1e-6,
                 what=f"{what}(x of shape {tuple(x.shape)}, {x.is_contiguous() and 'contiguous' or 'non-contiguous'})")


def test_LSTMForecaster_keeps_float64_and_builds_its_parts():
    """Are lstm and head configured as stated, and does a .double() model give float64?"""
    torch.manual_seed(0)
    model = mod.LSTMForecaster(2, 8, 6, num_layers=1)
    _parts(model, 2, 8, 6, 1, "LSTMForecaster(2, 8, 6)")
    out = model.double().eval()(torch.randn(3, 24, 2, dtype=torch.float64))
    assert_equal((tuple(out.shape), out.dtype), ((3, 6, 2), torch.float64),
                 what="the shape and dtype of LSTMForecaster(2, 8, 6).double()(x (3, 24, 2))")


# --- train_forecaster -------------------------------------------------------------------------

_RUNS: dict = {}


def _standardised():
    from drills_data.timeseries import load_series

    series = load_series().double()
    n = math.floor(TRAIN_FRAC * len(series))
    mean, std = series[:n].mean(0), series[:n].std(0, correction=0)
    return ((series[:n] - mean) / std).float(), ((series[n:] - mean) / std).float()


def _train(fn=None):
    """Train once per function object and cache (model, cpu seconds, what the call changed)."""
    fn = mod.train_forecaster if fn is None else fn
    key = id(fn), fn
    if key not in _RUNS:
        train, _ = _standardised()  # outside the timed call
        torch.manual_seed(1234)  # the function must seed itself
        before, threads = torch.get_rng_state(), torch.get_num_threads()
        start = time.process_time()
        model = fn(train, INPUT_LEN, HORIZON, seed=0)
        cpu = time.process_time() - start
        changed = []
        if not equal_values(torch.get_rng_state(), before):
            changed.append("torch's global random state (torch.get_rng_state()): seed inside "
                           "`with torch.random.fork_rng():` (or save the state with "
                           "torch.get_rng_state() and restore it with torch.set_rng_state())")
        if torch.get_num_threads() != threads:
            changed.append(f"the number of torch threads from {threads} to "
                           f"{torch.get_num_threads()}: leave torch.set_num_threads alone")
            torch.set_num_threads(threads)
        _RUNS.clear()
        _RUNS[key] = (model, cpu, changed)
    return _RUNS[key]


def _test_errors(model) -> tuple[float, float]:
    _, test = _standardised()
    values = test.unfold(0, INPUT_LEN + HORIZON, 1).transpose(1, 2)
    x, y = values[:, :INPUT_LEN], values[:, INPUT_LEN:]
    if not isinstance(model, nn.Module):
        fail(f"train_forecaster returned {type(model).__name__}; expected an LSTMForecaster.")
    kinds = {(p.dtype, p.device.type) for p in model.parameters()}
    if kinds != {(torch.float32, "cpu")}:
        fail(f"train_forecaster's parameters are {sorted(map(str, kinds))}; expected float32 "
             f"on the CPU (the test windows are float32).")
    with torch.no_grad():
        forecast = model(x)
    if not isinstance(forecast, torch.Tensor) or forecast.shape != y.shape:
        fail(f"the trained model maps test windows {tuple(x.shape)} to "
             f"{getattr(forecast, 'shape', type(forecast).__name__)}; expected {tuple(y.shape)}.")
    naive = x[:, -1:, :].expand_as(y)
    return ((forecast - y) ** 2).mean().item(), ((naive - y) ** 2).mean().item()


@pytest.mark.timeout(600)
def test_train_forecaster_halves_the_naive_error():
    """On the bundled series' test part, is the MSE at most half the naive forecast's?"""
    model, cpu, _ = _train()
    mse, naive = _test_errors(model)
    if not mse <= RATIO_BAR * naive:
        fail(f"train_forecaster's model has a test MSE of {mse:.4f}, {mse / naive:.2f} times the "
             f"naive forecast's {naive:.4f}; the bar is {RATIO_BAR} times (this run took "
             f"{cpu:.1f} s of CPU, the budget is {CPU_BUDGET_S:.0f} s). Train for more epochs or "
             f"with a larger learning rate (Adam, lr about 1e-2, 10 epochs, batches of 64).")


@pytest.mark.timeout(600)
def test_train_forecaster_within_60_s_of_cpu():
    """Does train_forecaster(train_std, 24, 6, seed=0) finish within 60 s of CPU time?"""
    _, cpu, _ = _train()
    spent("train_forecaster", cpu, CPU_BUDGET_S)
    if cpu > CPU_BUDGET_S:
        fail(f"train_forecaster took {cpu:.1f} s of CPU time (time.process_time of the call); "
             f"the budget is {CPU_BUDGET_S:.0f} s. A hidden size of about 32 and 10 epochs of "
             f"batches of 64 windows need about a second.")


@pytest.mark.timeout(600)
def test_train_forecaster_returns_an_eval_float32_forecaster_and_keeps_the_rng():
    """An LSTMForecaster in eval mode, float32 on the CPU, torch's RNG and thread count kept?"""
    model, _, changed = _train()
    if not isinstance(model, nn.Module) or type(model).__name__ != "LSTMForecaster":
        fail(f"train_forecaster returned {type(model).__name__}; expected your LSTMForecaster.")
    training = [name or "the model" for name, m in model.named_modules() if m.training]
    if training:
        fail(f"train_forecaster returned a model with {training} in train mode; return "
             f"model.eval().")
    kinds = {(p.dtype, p.device.type) for p in model.parameters()}
    if kinds != {(torch.float32, "cpu")}:
        fail(f"train_forecaster's parameters are {sorted(map(str, kinds))}; expected float32 "
             f"on the CPU.")
    if changed:
        fail(f"train_forecaster changed {'; and '.join(changed)}.")


@pytest.mark.timeout(600)
def test_train_forecaster_takes_a_1d_series():
    """Does a (T,) training series count as F = 1 (a short one: a fraction of the main run)?"""
    series = torch.sin(torch.arange(120.0) / 4)
    what = "train_forecaster(torch.sin(torch.arange(120.0) / 4), input_len=8, horizon=2)"
    try:
        model = mod.train_forecaster(series, 8, 2, seed=0)
    except NotImplementedError:
        raise
    except Exception as exc:  # noqa: BLE001
        fail(f"{what} raised {type(exc).__name__}: {exc}; a 1-D series counts as F = 1 "
             f"(unsqueeze(-1) it, or let make_windows do it).")
    if not isinstance(model, nn.Module):
        fail(f"{what} returned {type(model).__name__}; expected an LSTMForecaster.")
    with torch.no_grad():
        forecast = model(series[:24].reshape(3, 8, 1))
    assert_equal(getattr(forecast, "shape", type(forecast).__name__), torch.Size([3, 2, 1]),
                 what=f"the shape of the forecast of {what}'s model for windows (3, 8, 1) (a 1-D "
                      f"series counts as F = 1)")


@pytest.mark.hidden
@pytest.mark.timeout(600)
def test_train_forecaster_is_deterministic():
    """Does the same seed give the same weights twice in a row?"""
    first, _, _ = _train()
    first_state = {k: v.clone() for k, v in first.state_dict().items()}
    torch.manual_seed(4321)  # another global state: the result must depend on seed only
    train, _ = _standardised()
    second = mod.train_forecaster(train, INPUT_LEN, HORIZON, seed=0).state_dict()
    for key, value in first_state.items():
        if key not in second or not equal_values(second[key], value):
            fail(f"two calls of train_forecaster(..., seed=0) give different weights ({key} "
                 f"differs): call torch.manual_seed(seed) before building the model and "
                 f"shuffle with a torch.Generator seeded from seed.")
