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



@mutant("day4.timeseries.make_windows", expect=r"storage offset")
def windows_as_strided_from_the_storage_start(series, input_len, horizon, step=1):
    """as_strided without the series' storage offset: right for a fresh tensor only."""
    values = _check(series, input_len, horizon, step)
    n = (values.shape[0] - input_len - horizon) // step + 1
    t_stride, f_stride = values.stride()
    x = values.as_strided((n, input_len, values.shape[1]), (step * t_stride, t_stride, f_stride))
    y = values.as_strided((n, horizon, values.shape[1]), (step * t_stride, t_stride, f_stride),
                          input_len * t_stride)
    return x, y


@mutant("day4.timeseries.make_windows",
        expect=r"input_len=8, horizon=3, step=1\) returned tuple; expected ValueError")
def windows_empty_when_too_short(series, input_len, horizon, step=1):
    """No error for a series shorter than one window: zero windows instead."""
    if series.dim() not in (1, 2) or min(input_len, horizon, step) < 1:
        raise ValueError("bad arguments")
    values = series.unsqueeze(-1) if series.dim() == 1 else series
    if values.shape[0] < input_len + horizon:
        return values[:0].unsqueeze(1).expand(0, input_len, -1), \
            values[:0].unsqueeze(1).expand(0, horizon, -1)
    windows = values.unfold(0, input_len + horizon, step).transpose(1, 2)
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



@mutant("day4.timeseries.standardize_split", expect=r"computed in float32")
def split_in_float32(series, train_frac):
    """Statistics and both parts computed in float32, then cast back to series' dtype."""
    return tuple(t.to(series.dtype) for t in _split(series.float(), train_frac))


@mutant("day4.timeseries.standardize_split", expect=r"test_std of .*with the training part's mean")
def split_test_part_with_its_own_statistics(series, train_frac):
    """The test part standardised with its own mean and std."""
    train, _, mean, std = _split(series, train_frac)
    test = series[len(train):]
    test_std = test.std(0, correction=0)
    test_std = torch.where(test_std == 0, torch.ones_like(test_std), test_std)
    return train, (test - test.mean(0)) / test_std, mean, std

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



@mutant("day4.timeseries.naive_forecast", expect=r"repeats the mean of each window")
def naive_window_mean_kept_3d(x, horizon):
    """The mean of the window, in the right shape."""
    if horizon < 1:
        raise ValueError("horizon")
    return x.mean(1, keepdim=True).expand(-1, horizon, -1)


@mutant("day4.timeseries.naive_forecast", expect=r"last horizon = \d+ observed values")
def naive_last_steps(x, horizon):
    """The last horizon observed values instead of the last one repeated."""
    if horizon < 1:
        raise ValueError("horizon")
    return x[:, -horizon:, :] if horizon <= x.shape[1] else x[:, -1:, :].expand(-1, horizon, -1)

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



@mutant("day4.timeseries.LSTMForecaster", expect=r"first time step")
class ForecasterFirstStep(_Forecaster):
    def forward(self, x):
        output, _ = self.lstm(x)
        return self.head(output[:, 0]).reshape(len(x), self.horizon, self.n_features)


@mutant("day4.timeseries.LSTMForecaster", expect=r"no hidden layer in the head")
class ForecasterMlpHead(nn.Module):
    """A two-layer head where one linear layer is asked for."""

    def __init__(self, n_features, hidden_size, horizon, num_layers=1):
        super().__init__()
        self.shape = (horizon, n_features)
        self.lstm = nn.LSTM(n_features, hidden_size, num_layers=num_layers, batch_first=True)
        self.head = nn.Sequential(nn.Linear(hidden_size, hidden_size), nn.ReLU(),
                                  nn.Linear(hidden_size, horizon * n_features))

    def forward(self, x):
        output, _ = self.lstm(x)
        return self.head(output[:, -1]).reshape(len(x), *self.shape)


@mutant("day4.timeseries.LSTMForecaster", expect=r"1 layer\(s\) in all")
class ForecasterOneLayerAlways(_Forecaster):
    def __init__(self, n_features, hidden_size, horizon, num_layers=1):
        super().__init__(n_features, hidden_size, horizon, 1)

    def forward(self, x):
        output, _ = self.lstm(x)
        return self.head(output[:, -1]).reshape(len(x), self.horizon, self.n_features)

# --- train_forecaster -------------------------------------------------------------------------

class LSTMForecaster(_Forecaster):
    """A correct forecaster for the training mutants (the graders check the class name)."""

    def forward(self, x):
        output, _ = self.lstm(x)
        return self.head(output[:, -1]).reshape(len(x), self.horizon, self.n_features)


def _train(series, input_len, horizon, seed, *, epochs=10, lr=1e-2, fork=True, seeded=True,
           eval_mode=True, dtype=torch.float32):
    values = series.unsqueeze(-1) if series.dim() == 1 else series
    values = values.to(dtype)
    windows = values.unfold(0, input_len + horizon, 1).transpose(1, 2)
    x, y = windows[:, :input_len], windows[:, input_len:]
    state = torch.get_rng_state()
    if seeded:
        torch.manual_seed(seed)
    model = LSTMForecaster(values.shape[1], 32, horizon).to(dtype)
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



@mutant("day4.timeseries.train_forecaster", expect=r"expected float32")
def forecaster_trained_in_float64(train_series, input_len, horizon, seed=0):
    return _train(train_series, input_len, horizon, seed, epochs=2, dtype=torch.float64)


@mutant("day4.timeseries.train_forecaster", expect=r"number of torch threads from")
def forecaster_sets_the_threads(train_series, input_len, horizon, seed=0):
    torch.set_num_threads(2)
    return _train(train_series, input_len, horizon, seed, epochs=2)


@mutant("day4.timeseries.train_forecaster", expect=r"1-D series counts as F = 1")
def forecaster_assumes_two_dimensions(train_series, input_len, horizon, seed=0):
    _, features = train_series.shape  # a (T,) series fails here
    return _train(train_series, input_len, horizon, seed, epochs=2)

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


@alternative("day4.timeseries.make_windows")
def windows_from_two_unfolds(series, input_len, horizon, step=1):
    """X and Y from two unfolds (one per part), cut to the same N, permute instead of transpose."""
    if series.ndim not in (1, 2) or input_len < 1 or horizon < 1 or step < 1:
        raise ValueError("bad arguments")
    values = series if series.ndim == 2 else series[:, None]
    n = (values.shape[0] - input_len - horizon) // step + 1
    if n < 1:
        raise ValueError("too short")
    x = values[:values.shape[0] - horizon].unfold(0, input_len, step)[:n].permute(0, 2, 1)
    y = values[input_len:].unfold(0, horizon, step)[:n].permute(0, 2, 1)
    return x, y


@alternative("day4.timeseries.make_windows")
def windows_as_strided_with_a_zero_feature_stride(series, input_len, horizon, step=1):
    """torch.as_strided on the series itself; a 1-D series gets F = 1 with stride 0."""
    if not 1 <= series.dim() <= 2 or min(input_len, horizon, step) < 1:
        raise ValueError("bad arguments")
    n = (series.size(0) - input_len - horizon) // step + 1
    if n < 1:
        raise ValueError("too short")
    if series.dim() == 1:
        features, t_stride, f_stride = 1, series.stride(0), 0
    else:
        features, (t_stride, f_stride) = series.size(1), series.stride()
    strides, offset = (step * t_stride, t_stride, f_stride), series.storage_offset()
    x = torch.as_strided(series, (n, input_len, features), strides, offset)
    y = torch.as_strided(series, (n, horizon, features), strides, offset + input_len * t_stride)
    return x, y


@alternative("day4.timeseries.standardize_split")
def split_standardising_the_whole_series(series, train_frac):
    """Keepdim statistics from var(correction=0).sqrt(), the whole series standardised, then cut."""
    if series.dim() not in (1, 2):
        raise ValueError("series must be 1-D or 2-D")
    n = int(train_frac * series.size(0))  # int() truncates: floor for a positive product
    if n < 1 or series.size(0) - n < 1:
        raise ValueError("both parts need a step")
    mean = series[:n].mean(0, keepdim=True)
    std = series[:n].var(0, correction=0, keepdim=True).sqrt()
    std[std == 0] = 1
    z = (series - mean) / std
    return z[:n], z[n:], mean.squeeze(0), std.squeeze(0)


@alternative("day4.timeseries.standardize_split")
def split_with_std_mean(series, train_frac):
    """torch.std_mean(unbiased=False), torch.split, where() with a Python 1.0."""
    if series.dim() not in (1, 2):
        raise ValueError("series must be 1-D or 2-D")
    n = math.floor(train_frac * len(series))
    if not 0 < n < len(series):
        raise ValueError("both parts need a step")
    train, test = torch.split(series, [n, len(series) - n])
    std, mean = torch.std_mean(train, dim=0, unbiased=False)
    std = torch.where(std == 0, 1.0, std)
    return (train - mean) / std, (test - mean) / std, mean, std


@alternative("day4.timeseries.naive_forecast")
def naive_by_stacking(x, horizon):
    """A new tensor: the last step stacked horizon times along dim 1."""
    if horizon < 1:
        raise ValueError("horizon must be >= 1")
    return torch.stack([x.select(1, -1)] * horizon, dim=1)


@alternative("day4.timeseries.naive_forecast")
def naive_by_a_repeated_index_list(x, horizon):
    """Advanced indexing with a list of the last index."""
    if horizon <= 0:
        raise ValueError("horizon must be >= 1")
    return x[:, [x.shape[1] - 1] * horizon, :]


@alternative("day4.timeseries.LSTMForecaster")
class ForecasterOtherNamesAndSequentialHead(nn.Module):
    """Other attribute names, the head in a Sequential with Unflatten, an explicit zero state."""

    def __init__(self, n_features, hidden_size, horizon, num_layers=1):
        super().__init__()
        self.num_layers, self.hidden_size = num_layers, hidden_size
        self.encoder = nn.LSTM(input_size=n_features, hidden_size=hidden_size,
                               num_layers=num_layers, batch_first=True,
                               dropout=0.1 if num_layers > 1 else 0.0)
        self.decoder = nn.Sequential(nn.Linear(hidden_size, horizon * n_features),
                                     nn.Unflatten(1, (horizon, n_features)))

    def forward(self, x):
        h0 = x.new_zeros(self.num_layers, x.size(0), self.hidden_size)
        output, _ = self.encoder(x, (h0, torch.zeros_like(h0)))
        return self.decoder(output[:, x.size(1) - 1])


@alternative("day4.timeseries.LSTMForecaster")
class ForecasterStackOfSingleLayers(nn.Module):
    """num_layers one-layer LSTMs in a ModuleList (the same stacked network), a bias-free head."""

    def __init__(self, n_features, hidden_size, horizon, num_layers=1):
        super().__init__()
        self.cells = nn.ModuleList(
            nn.LSTM(n_features if i == 0 else hidden_size, hidden_size, batch_first=True)
            for i in range(num_layers))
        self.proj = nn.Linear(hidden_size, horizon * n_features, bias=False)
        self.out_shape = (horizon, n_features)

    def forward(self, x):
        for cell in self.cells:
            x, _ = cell(x)
        return self.proj(x[:, -1]).view(-1, *self.out_shape)


@alternative("day4.timeseries.train_forecaster")
def forecaster_with_a_dataloader(train_series, input_len, horizon, seed=0):
    """DataLoader(shuffle=True, generator=...), batches of 32, 8 epochs at lr 3e-3, fork_rng."""
    from torch.utils.data import DataLoader, TensorDataset

    with torch.random.fork_rng():
        torch.manual_seed(seed)
        values = train_series.reshape(len(train_series), -1)
        windows = values.unfold(0, input_len + horizon, 1).transpose(1, 2)
        data = TensorDataset(windows[:, :input_len], windows[:, input_len:])
        loader = DataLoader(data, batch_size=32, shuffle=True,
                            generator=torch.Generator().manual_seed(seed))
        model = LSTMForecaster(values.shape[1], 32, horizon)
        opt = torch.optim.Adam(model.parameters(), lr=3e-3)
        for _ in range(8):
            for xb, yb in loader:
                opt.zero_grad()
                nn.MSELoss()(model(xb), yb).backward()
                opt.step()
    return model.eval()


@alternative("day4.timeseries.train_forecaster")
def forecaster_sgd_two_layers_global_rng_inside_fork(train_series, input_len, horizon, seed=0):
    """SGD with momentum and clipping, two layers, randperm on the global RNG inside fork_rng."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        values = train_series.unsqueeze(-1) if train_series.dim() == 1 else train_series
        windows = values.unfold(0, input_len + horizon, 1).transpose(1, 2)
        x, y = windows[:, :input_len], windows[:, input_len:]
        model = LSTMForecaster(values.size(-1), 32, horizon, num_layers=2)
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        for _ in range(10):
            for idx in torch.randperm(len(x)).split(64):
                opt.zero_grad()
                nn.functional.mse_loss(model(x[idx]), y[idx]).backward()
                nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
        model.eval()
    return model
