"""Wrong solutions for day4/timeseries.py, each a mistake students really make."""

import math

import torch
from torch import nn

from graders.testing import alternative, mutant


def _check(series, input_len, horizon, step):
    if series.dim() not in (1, 2) or min(input_len, horizon, step) < 1 or \
            series.shape[0] < input_len + horizon:
        raise ValueError("bad arguments")
    return series.unsqueeze(-1) if series.dim() == 1 else series


# --- make_windows -----------------------------------------------------------------------------

@mutant("day4.timeseries.make_windows", expect=r"a copy, not a view")
def windows_by_stacking(series, input_len, horizon, step=1):
    values = _check(series, input_len, horizon, step)
    starts = range(0, values.shape[0] - input_len - horizon + 1, step)
    x = torch.stack([values[s:s + input_len] for s in starts])
    y = torch.stack([values[s + input_len:s + input_len + horizon] for s in starts])
    return x, y


@mutant("day4.timeseries.make_windows", expect=r"expected N = \(T - input_len - horizon\)")
def windows_one_short(series, input_len, horizon, step=1):
    values = _check(series, input_len, horizon, step)
    windows = values.unfold(0, input_len + horizon, step).transpose(1, 2)
    windows = windows[:-1] if len(windows) > 1 else windows  # range(T - L - H) // step
    return windows[:, :input_len], windows[:, input_len:]


@mutant("day4.timeseries.make_windows", expect=r"Y of make_windows")
def windows_target_overlaps_input(series, input_len, horizon, step=1):
    values = _check(series, input_len, horizon, step)
    x = values.unfold(0, input_len, step).transpose(1, 2)
    y = values[input_len - 1:].unfold(0, horizon, step).transpose(1, 2)
    n = (values.shape[0] - input_len - horizon) // step + 1
    return x[:n], y[:n]


@mutant("day4.timeseries.make_windows", expect=r"counts as F = 1")
def windows_drop_the_feature_axis(series, input_len, horizon, step=1):
    _check(series, input_len, horizon, step)
    windows = series.unfold(0, input_len + horizon, step)
    if series.dim() == 2:
        windows = windows.transpose(1, 2)
    return windows[:, :input_len], windows[:, input_len:]


# --- standardize_split ------------------------------------------------------------------------

def _split(series, train_frac, *, whole=False, correction=0, rounding=math.floor, eps=0.0):
    if series.dim() not in (1, 2):
        raise ValueError("bad series")
    n = int(rounding(train_frac * series.shape[0]))
    if not 0 < n < series.shape[0]:
        raise ValueError("empty part")
    stats = series if whole else series[:n]
    mean = stats.mean(0)
    std = stats.std(0, correction=correction) if len(stats) > correction else stats.std(0, correction=0)
    std = std + eps if eps else torch.where(std == 0, torch.ones_like(std), std)
    return (series[:n] - mean) / std, (series[n:] - mean) / std, mean, std


@mutant("day4.timeseries.standardize_split", expect=r"training part only")
def split_statistics_of_the_whole_series(series, train_frac):
    return _split(series, train_frac, whole=True)


@mutant("day4.timeseries.standardize_split", expect=r"population std")
def split_unbiased_std(series, train_frac):
    return _split(series, train_frac, correction=1)


@mutant("day4.timeseries.standardize_split", expect=r"floor, not round")
def split_rounds(series, train_frac):
    return _split(series, train_frac, rounding=round)


@mutant("day4.timeseries.standardize_split", expect=r"only an\s+exact 0 becomes 1")
def split_epsilon(series, train_frac):
    return _split(series, train_frac, eps=1e-5)


# --- naive_forecast ---------------------------------------------------------------------------

@mutant("day4.timeseries.naive_forecast", expect=r"repeats the first value")
def naive_first_value(x, horizon):
    if horizon < 1:
        raise ValueError("horizon")
    return x[:, :1, :].expand(-1, horizon, -1)


@mutant("day4.timeseries.naive_forecast", expect=r"expected ValueError")
def naive_accepts_any_horizon(x, horizon):
    return x[:, -1:, :].repeat(1, max(horizon, 0), 1)


@mutant("day4.timeseries.naive_forecast", expect=r"shape")
def naive_window_mean(x, horizon):
    if horizon < 1:
        raise ValueError("horizon")
    return x.mean(1).unsqueeze(1).expand(-1, horizon, -1)[..., 0]


# --- LSTMForecaster ---------------------------------------------------------------------------

class _Forecaster(nn.Module):
    def __init__(self, n_features, hidden_size, horizon, num_layers=1, batch_first=True):
        super().__init__()
        self.n_features, self.horizon = n_features, horizon
        self.lstm = nn.LSTM(n_features, hidden_size, num_layers=num_layers,
                            batch_first=batch_first)
        self.head = nn.Linear(hidden_size, horizon * n_features)


@mutant("day4.timeseries.LSTMForecaster", expect=r"first layer's final state")
class ForecasterFirstLayer(_Forecaster):
    def forward(self, x):
        _, (h_n, _) = self.lstm(x)
        return self.head(h_n[0]).reshape(len(x), self.horizon, self.n_features)


@mutant("day4.timeseries.LSTMForecaster", expect=r"reshape to \(N, H, F\)")
class ForecasterFeatureMajor(_Forecaster):
    def forward(self, x):
        output, _ = self.lstm(x)
        out = self.head(output[:, -1]).reshape(len(x), self.n_features, self.horizon)
        return out.transpose(1, 2)


@mutant("day4.timeseries.LSTMForecaster", expect=r"batch_first=True")
class ForecasterTimeFirst(_Forecaster):
    def __init__(self, n_features, hidden_size, horizon, num_layers=1):
        super().__init__(n_features, hidden_size, horizon, num_layers, batch_first=False)

    def forward(self, x):
        output, _ = self.lstm(x.transpose(0, 1))
        return self.head(output[-1]).reshape(x.shape[0], self.horizon, self.n_features)


@mutant("day4.timeseries.LSTMForecaster", expect=r"mean over time")
class ForecasterMeanPool(_Forecaster):
    def forward(self, x):
        output, _ = self.lstm(x)
        return self.head(output.mean(1)).reshape(len(x), self.horizon, self.n_features)


# --- train_forecaster -------------------------------------------------------------------------

class LSTMForecaster(_Forecaster):
    """A correct forecaster for the training mutants (the graders check the class name)."""

    def forward(self, x):
        output, _ = self.lstm(x)
        return self.head(output[:, -1]).reshape(len(x), self.horizon, self.n_features)


def _train(series, input_len, horizon, seed, *, epochs=10, lr=1e-2, fork=True, seeded=True,
           eval_mode=True):
    values = series.unsqueeze(-1) if series.dim() == 1 else series
    windows = values.unfold(0, input_len + horizon, 1).transpose(1, 2)
    x, y = windows[:, :input_len], windows[:, input_len:]
    state = torch.get_rng_state()
    if seeded:
        torch.manual_seed(seed)
    model = LSTMForecaster(values.shape[1], 32, horizon)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(epochs):
        for idx in torch.randperm(len(x)).split(64):
            opt.zero_grad()
            nn.functional.mse_loss(model(x[idx]), y[idx]).backward()
            opt.step()
    if fork:
        torch.set_rng_state(state)
    return model.eval() if eval_mode else model


@mutant("day4.timeseries.train_forecaster", expect=r"times the naive forecast")
def forecaster_barely_trained(train_series, input_len, horizon, seed=0):
    return _train(train_series, input_len, horizon, seed, epochs=1, lr=1e-4)


@mutant("day4.timeseries.train_forecaster", expect=r"global random state")
def forecaster_reseeds_the_global_rng(train_series, input_len, horizon, seed=0):
    return _train(train_series, input_len, horizon, seed, epochs=2, fork=False)


@mutant("day4.timeseries.train_forecaster", expect=r"different weights")
def forecaster_not_seeded(train_series, input_len, horizon, seed=0):
    return _train(train_series, input_len, horizon, seed, epochs=2, seeded=False)


@mutant("day4.timeseries.train_forecaster", expect=r"in train mode")
def forecaster_left_in_train_mode(train_series, input_len, horizon, seed=0):
    return _train(train_series, input_len, horizon, seed, epochs=2, eval_mode=False)


# --- correct alternatives ---------------------------------------------------------------------

@alternative("day4.timeseries.make_windows")
def windows_with_as_strided(series, input_len, horizon, step=1):
    """The same views from as_strided, with the series' own strides."""
    values = _check(series, input_len, horizon, step)
    n = (values.shape[0] - input_len - horizon) // step + 1
    t_stride, f_stride = values.stride()
    offset = values.storage_offset()
    x = values.as_strided((n, input_len, values.shape[1]), (step * t_stride, t_stride, f_stride),
                          offset)
    y = values.as_strided((n, horizon, values.shape[1]), (step * t_stride, t_stride, f_stride),
                          offset + input_len * t_stride)
    return x, y


@alternative("day4.timeseries.standardize_split")
def split_by_sums(series, train_frac):
    """Mean and variance from sums of the training part, a mask for the zero std."""
    if series.dim() not in (1, 2):
        raise ValueError("series must be 1-D or 2-D")
    n = math.floor(train_frac * len(series))
    if n <= 0 or n >= len(series):
        raise ValueError("both parts need a step")
    train = series[:n]
    mean = train.sum(0) / n
    std = ((train - mean) ** 2).sum(0).div(n).sqrt()
    std = std.masked_fill(std == 0, 1.0)
    return (train - mean) / std, (series[n:] - mean) / std, mean, std


@alternative("day4.timeseries.naive_forecast")
def naive_by_indexing(x, horizon):
    """A fresh tensor from index_select with a repeated index."""
    if horizon < 1:
        raise ValueError("horizon must be >= 1")
    last = torch.full((horizon,), x.shape[1] - 1, dtype=torch.long)
    return x.index_select(1, last)


@alternative("day4.timeseries.LSTMForecaster")
class ForecasterFromFinalState(_Forecaster):
    """h_n[-1] instead of output[:, -1] (the same numbers), view instead of reshape."""

    def __init__(self, n_features, hidden_size, horizon, num_layers=1):
        super().__init__(n_features, hidden_size, horizon, num_layers)

    def forward(self, x):
        _, (h_n, _) = self.lstm(x)
        return self.head(h_n[-1]).view(-1, self.horizon, self.n_features)


@alternative("day4.timeseries.train_forecaster")
def forecaster_saving_the_rng(train_series, input_len, horizon, seed=0):
    """Saves and restores the RNG by hand; full-size training with another optimiser setup."""
    state = torch.get_rng_state()
    try:
        torch.manual_seed(seed)
        values = train_series.reshape(len(train_series), -1)
        windows = values.unfold(0, input_len + horizon, 1).transpose(1, 2)
        x, y = windows[:, :input_len].contiguous(), windows[:, input_len:].contiguous()
        model = LSTMForecaster(values.shape[1], 24, horizon)
        opt = torch.optim.Adam(model.parameters(), lr=5e-3)
        g = torch.Generator().manual_seed(seed)
        for _ in range(12):
            for idx in torch.randperm(len(x), generator=g).split(32):
                opt.zero_grad()
                nn.functional.mse_loss(model(x[idx]), y[idx]).backward()
                opt.step()
    finally:
        torch.set_rng_state(state)
    return model.eval()
