"""Recurrent networks for time series: windows, honest standardisation, a baseline, a forecaster.

Forecasting turns one long series into many supervised examples: a window of the past (the
input) and the steps that follow it (the target). Three habits keep the evaluation honest:
windows are views (no copies of a long series), the test part comes *after* the training part
in time and is never shuffled into it, and the statistics used to standardise come from the
training part only. A model is only worth something if it beats the naive forecast ("tomorrow
looks like today"), so you compute that baseline too. At the end an LSTM forecasts the bundled
hourly load and temperature series (``drills_data.timeseries``).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

FORECAST_HIDDEN = 32
FORECAST_EPOCHS = 10
FORECAST_BATCH = 64
FORECAST_LR = 1e-2


def make_windows(series: Tensor, input_len: int, horizon: int, step: int = 1
                 ) -> tuple[Tensor, Tensor]:
    """Cut a series into (input window, following target window) pairs, as views.

    Window n starts at time ``n * step``: its input is ``series[n*step : n*step + input_len]``
    and its target the ``horizon`` steps right after, ``series[n*step + input_len :
    n*step + input_len + horizon]``. There are ``N = (T - input_len - horizon) // step + 1``
    windows (a remainder too short for one more window is dropped).

    Args:
        series: (T,) or (T, F), any dtype and memory layout; a 1-D series counts as F = 1.
        input_len: the length L of each input window (>= 1).
        horizon: the number of target steps H (>= 1).
        step: the distance between the starts of consecutive windows (>= 1).

    Returns:
        ``(X, Y)``: X of shape (N, L, F) and Y of shape (N, H, F), in series' dtype. Both are
        *views* of ``series`` (they share its storage; no data is copied): build them with
        ``Tensor.unfold`` (or ``as_strided``) and views such as ``unsqueeze``, ``transpose``
        and slicing, never with ``torch.stack``, ``cat`` or ``clone``.

    Raises:
        ValueError: when series is not 1-D or 2-D, when input_len, horizon or step is below 1,
            or when the series is too short for one window (N < 1).

    Checked against ``series.unfold(0, input_len + horizon, step)`` on drawn series in
    permuted, sliced and offset layouts, for sharing storage with ``series``, and for the
    errors (T = input_len + horizon, exactly one window, included).

    Example:
        >>> X, Y = make_windows(torch.arange(6.0), input_len=3, horizon=2)
        >>> X.shape, Y.shape
        (torch.Size([2, 3, 1]), torch.Size([2, 2, 1]))
        >>> X[1, :, 0].tolist(), Y[1, :, 0].tolist()
        ([1.0, 2.0, 3.0], [4.0, 5.0])
    """
    if series.dim() not in (1, 2):
        raise ValueError(f"series must be (T,) or (T, F), got shape {tuple(series.shape)}")
    if min(input_len, horizon, step) < 1:
        raise ValueError(f"input_len, horizon and step must be >= 1, got {input_len}, "
                         f"{horizon}, {step}")
    values = series.unsqueeze(-1) if series.dim() == 1 else series
    span = input_len + horizon
    if values.shape[0] < span:
        raise ValueError(f"a series of {values.shape[0]} steps is too short for one window of "
                         f"{input_len} + {horizon}")
    windows = values.unfold(0, span, step).transpose(1, 2)  # (N, span, F)
    return windows[:, :input_len], windows[:, input_len:]


def standardize_split(series: Tensor, train_frac: float
                      ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Split a series in time and standardise both parts with the training part's statistics.

    The first ``math.floor(train_frac * T)`` steps are the training part, the rest the test
    part (in time order: never shuffled). The mean and the *population* standard deviation
    (``unbiased=False``) are computed per feature over the training part only, so nothing of
    the test part leaks into the model's inputs; a standard deviation of exactly 0 (a constant
    feature) becomes 1 (only an exact 0: a tiny std stays as it is).

    Args:
        series: (T,) or (T, F) floating point, any memory layout.
        train_frac: the fraction of the steps used for training, e.g. 0.8.

    Returns:
        ``(train_std, test_std, mean, std)``: ``(train - mean) / std`` of shape (n_train, ...)
        and ``(test - mean) / std`` of shape (T - n_train, ...), and mean and std of shape
        (F,) for a (T, F) series or () for a (T,) series, all in series' dtype.

    Raises:
        ValueError: unless both parts have at least one step (0 < floor(train_frac * T) < T),
            or when series is not 1-D or 2-D.

    Checked against these formulas computed in float64 (rtol and atol 1e-5 in float32, 1e-7
    in float64) on drawn series in several layouts, with constant features, a tiny spread, and
    fractions such as 0.29 of 100 steps (floor gives 28: 0.29 * 100 is 28.999999999999996).

    Example:
        >>> tr, te, mean, std = standardize_split(torch.tensor([1.0, 3.0, 5.0, 7.0]), 0.5)
        >>> tr.tolist(), te.tolist(), mean.item(), std.item()
        ([-1.0, 1.0], [3.0, 5.0], 2.0, 1.0)
    """
    if series.dim() not in (1, 2):
        raise ValueError(f"series must be (T,) or (T, F), got shape {tuple(series.shape)}")
    length = series.shape[0]
    n_train = math.floor(train_frac * length)
    if not 0 < n_train < length:
        raise ValueError(f"train_frac={train_frac} of {length} steps leaves an empty part")
    train, test = series[:n_train], series[n_train:]
    mean = train.mean(dim=0)
    std = train.std(dim=0, correction=0)
    std = torch.where(std == 0, torch.ones_like(std), std)
    return (train - mean) / std, (test - mean) / std, mean, std


def naive_forecast(x: Tensor, horizon: int) -> Tensor:
    """The naive (persistence) forecast: the last observed value, repeated.

    Args:
        x: input windows (N, L, F) with L >= 1, any dtype and memory layout.
        horizon: the number of steps to forecast (>= 1).

    Returns:
        (N, horizon, F) in x's dtype: every forecast step equals ``x[:, -1, :]``. It may be a
        view of x (``expand``) or a new tensor.

    Raises:
        ValueError: when horizon < 1.

    Checked against ``x[:, -1:, :]`` repeated, on drawn windows in several layouts (N = 0,
    L = 1 and F = 1 included).

    Example:
        >>> x = torch.tensor([[[1.0], [2.0], [5.0]]])
        >>> naive_forecast(x, 2)[0, :, 0].tolist()
        [5.0, 5.0]
    """
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}")
    return x[:, -1:, :].expand(-1, horizon, -1)


class LSTMForecaster(nn.Module):
    """An LSTM that reads an input window and a linear head that forecasts all steps at once.

    Args:
        n_features: F, the number of features per time step (input and output).
        hidden_size: the LSTM's hidden size.
        horizon: H, the number of steps to forecast.
        num_layers: stacked LSTM layers.

    Two submodules, with these settings (the graders find them by type, whatever their
    attribute names, and copy their weights):
    ``nn.LSTM(n_features, hidden_size, num_layers=num_layers, batch_first=True)`` (dropout
    between layers allowed) and one ``nn.Linear(hidden_size, horizon * n_features)``, the head
    (e.g. ``self.lstm`` and ``self.head``).

    ``forward(x)``: x of shape (N, L, F) (batch first, any memory layout) -> (N, H, F): run the
    LSTM over the window from a zero state, take the top layer's output at the last time step
    (``output[:, -1]``, the same as ``h_n[-1]``), apply the head, and reshape its
    ``H * F`` outputs to (H, F) (row-major: the first F numbers are step 1). The output has the
    model's dtype (float32 unless ``.double()`` was called).

    Checked in eval mode by copying the two submodules' weights into ``nn.LSTM``/``nn.Linear``
    layers built by the grader and comparing outputs (rtol 1e-5, atol 1e-6 in float32) for
    several F, H, hidden sizes, one and two layers and non-contiguous inputs.

    Example:
        >>> model = LSTMForecaster(n_features=2, hidden_size=16, horizon=6)
        >>> model(torch.randn(5, 24, 2)).shape
        torch.Size([5, 6, 2])
    """

    def __init__(self, n_features: int, hidden_size: int, horizon: int, num_layers: int = 1
                 ) -> None:
        super().__init__()
        self.n_features, self.horizon = n_features, horizon
        self.lstm = nn.LSTM(n_features, hidden_size, num_layers=num_layers, batch_first=True)
        self.head = nn.Linear(hidden_size, horizon * n_features)

    def forward(self, x: Tensor) -> Tensor:
        output, _ = self.lstm(x)
        return self.head(output[:, -1]).reshape(x.shape[0], self.horizon, self.n_features)


def train_forecaster(train_series: Tensor, input_len: int, horizon: int, seed: int = 0
                     ) -> LSTMForecaster:
    """Train an ``LSTMForecaster`` on a (standardised) training series.

    Cut ``train_series`` into windows with ``make_windows(train_series, input_len, horizon)``
    and train your ``LSTMForecaster`` to predict each window's ``horizon`` following steps
    from its ``input_len`` inputs (mean squared error, e.g. Adam with mini-batches drawn in a
    seeded random order). Use only ``train_series``: the test part is for grading.

    Seed everything from ``seed`` (``torch.manual_seed`` inside ``torch.random.fork_rng()``, a
    ``torch.Generator`` for the batch order) so that the same seed gives the same weights, and
    leave torch's global random state (``torch.get_rng_state()``) as you found it. Do not change
    the number of threads.

    Args:
        train_series: (T, F) or (T,) float32, already standardised (e.g. by
            ``standardize_split``); a 1-D series counts as F = 1.
        input_len: L, the length of the input windows.
        horizon: H, the number of steps to forecast.
        seed: the random seed.

    Returns:
        An ``LSTMForecaster`` in eval mode, float32, on the CPU, mapping (N, L, F) to (N, H, F).

    The grader standardises the bundled series (``drills_data.timeseries.load_series()``, 2000
    hourly steps of load and temperature) with train_frac 0.8, calls
    ``train_forecaster(train_std, input_len=24, horizon=6, seed=0)``, measures its CPU time
    with ``time.process_time`` (budget 60 s on one thread; the reference needs about a second)
    and requires the mean squared error on all windows of the test part to be at most half
    that of ``naive_forecast`` on the same windows. Another check trains on a short (T,) series
    (F = 1) and a hidden one trains twice and compares the weights.

    Example:
        >>> series = torch.sin(torch.arange(300.0) / 4).unsqueeze(1)
        >>> model = train_forecaster(series, input_len=12, horizon=3, seed=0)
        >>> model(series[:12].unsqueeze(0)).shape
        torch.Size([1, 3, 1])
    """
    values = train_series.unsqueeze(-1) if train_series.dim() == 1 else train_series
    values = values.float()
    inputs, targets = make_windows(values, input_len, horizon)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(seed)
        model = LSTMForecaster(values.shape[1], FORECAST_HIDDEN, horizon)
        optimizer = torch.optim.Adam(model.parameters(), lr=FORECAST_LR)
        loss_fn = nn.MSELoss()
        for _ in range(FORECAST_EPOCHS):
            order = torch.randperm(len(inputs), generator=generator)
            for idx in order.split(FORECAST_BATCH):
                optimizer.zero_grad()
                loss_fn(model(inputs[idx]), targets[idx]).backward()
                optimizer.step()
    return model.eval()
