"""Wrong solutions for day4/rnn.py, each a mistake students really make."""

import torch

from graders.testing import mutant


def _aff(x, w, b):
    return x @ w.T if b is None else x @ w.T + b


# --- rnn_cell ---------------------------------------------------------------------------------

@mutant("day4.rnn.rnn_cell", expect=r"b_hh is missing")
def rnn_cell_one_bias(x, h, W_ih, W_hh, b_ih, b_hh):
    return torch.tanh(_aff(x, W_ih, b_ih) + h @ W_hh.T)


@mutant("day4.rnn.rnn_cell", expect=r"not allowed")
def rnn_cell_fused(x, h, W_ih, W_hh, b_ih, b_hh):
    return torch.rnn_tanh_cell(x, h, W_ih, W_hh, b_ih, b_hh)


# --- rnn_forward ------------------------------------------------------------------------------



@mutant("day4.rnn.rnn_forward", expect=r"stack|non-empty|empty")
def rnn_forward_no_empty(x, h0, W_ih, W_hh, b_ih, b_hh):
    hs, h = [], h0
    for t in range(x.shape[0]):
        h = torch.tanh(_aff(x[t], W_ih, b_ih) + _aff(h, W_hh, b_hh))
        hs.append(h)
    return torch.stack(hs), hs[-1]


@mutant("day4.rnn.rnn_forward", expect=r"require grad")
def rnn_forward_preallocated_no_grad(x, h0, W_ih, W_hh, b_ih, b_hh):
    out = torch.zeros(x.shape[0], *h0.shape, dtype=x.dtype)
    h = h0
    for t in range(x.shape[0]):
        h = torch.tanh(_aff(x[t], W_ih, b_ih) + _aff(h, W_hh, b_hh))
        out[t] = h.detach()
    return out, h


# --- rnn_backward -----------------------------------------------------------------------------

def _forward(x, h0, W_ih, W_hh, b_ih, b_hh):
    hs, h = [], h0
    for t in range(x.shape[0]):
        h = torch.tanh(x[t] @ W_ih.T + b_ih + h @ W_hh.T + b_hh)
        hs.append(h)
    return hs


def _bptt(dhs, x, h0, W_ih, W_hh, b_ih, b_hh, *, carry=True, h0_grad=True, prev_off_by_one=False):
    hs = _forward(x, h0, W_ih, W_hh, b_ih, b_hh)
    dx, dWih, dWhh, db = (torch.zeros_like(x), torch.zeros_like(W_ih), torch.zeros_like(W_hh),
                          torch.zeros_like(b_ih))
    dh_next = torch.zeros_like(h0)
    for t in reversed(range(x.shape[0])):
        h_prev = hs[t - 1] if t > 0 else h0
        if prev_off_by_one:
            h_prev = hs[t]
        da = (dhs[t] + (dh_next if carry else 0)) * (1 - hs[t] ** 2)
        dx[t] = da @ W_ih
        dWih += da.T @ x[t]
        dWhh += da.T @ h_prev
        db += da.sum(0)
        dh_next = da @ W_hh
    return {"x": dx, "h0": dh_next if h0_grad else torch.zeros_like(h0), "W_ih": dWih,
            "W_hh": dWhh, "b_ih": db, "b_hh": db.clone()}


@mutant("day4.rnn.rnn_backward", expect=r"h_\(t-1\)")
def rnn_backward_no_carry(dhs, x, h0, W_ih, W_hh, b_ih, b_hh):
    return _bptt(dhs, x, h0, W_ih, W_hh, b_ih, b_hh, carry=False)


@mutant("day4.rnn.rnn_backward", expect=r"except the one for h0")
def rnn_backward_zero_h0(dhs, x, h0, W_ih, W_hh, b_ih, b_hh):
    return _bptt(dhs, x, h0, W_ih, W_hh, b_ih, b_hh, h0_grad=False)


@mutant("day4.rnn.rnn_backward", expect=r"not allowed|autograd")
def rnn_backward_autograd(dhs, x, h0, W_ih, W_hh, b_ih, b_hh):
    with torch.enable_grad():
        leaves = [t.clone().requires_grad_(True) for t in (x, h0, W_ih, W_hh, b_ih, b_hh)]
        hs = _forward(*leaves)
        total = sum((a * b).sum() for a, b in zip(hs, dhs))
        grads = torch.autograd.grad(total, leaves)
    return dict(zip(("x", "h0", "W_ih", "W_hh", "b_ih", "b_hh"), grads))


# --- lstm_cell / gru_cell -----------------------------------------------------------------------

@mutant("day4.rnn.lstm_cell", expect=r"order i, f, o, g")
def lstm_cell_cs231n_order(x, state, W_ih, W_hh, b_ih, b_hh):
    h, c = state
    i, f, o, g = (_aff(x, W_ih, b_ih) + _aff(h, W_hh, b_hh)).chunk(4, -1)
    c2 = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c2), c2


@mutant("day4.rnn.lstm_cell", expect=r"b_hh is missing")
def lstm_cell_one_bias(x, state, W_ih, W_hh, b_ih, b_hh):
    h, c = state
    i, f, g, o = (_aff(x, W_ih, b_ih) + h @ W_hh.T).chunk(4, -1)
    c2 = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c2), c2


@mutant("day4.rnn.gru_cell", expect=r"z weights the new candidate")
def gru_cell_z_swapped(x, h, W_ih, W_hh, b_ih, b_hh):
    i_r, i_z, i_n = _aff(x, W_ih, b_ih).chunk(3, -1)
    h_r, h_z, h_n = _aff(h, W_hh, b_hh).chunk(3, -1)
    r, z = torch.sigmoid(i_r + h_r), torch.sigmoid(i_z + h_z)
    n = torch.tanh(i_n + r * h_n)
    return z * n + (1 - z) * h


@mutant("day4.rnn.gru_cell", expect=r"reset gate")
def gru_cell_reset_before_matmul(x, h, W_ih, W_hh, b_ih, b_hh):
    i_r, i_z, i_n = _aff(x, W_ih, b_ih).chunk(3, -1)
    h_r, h_z, _ = _aff(h, W_hh, b_hh).chunk(3, -1)
    r, z = torch.sigmoid(i_r + h_r), torch.sigmoid(i_z + h_z)
    w_hn = W_hh.chunk(3, 0)[2]
    b_hn = None if b_hh is None else b_hh.chunk(3, 0)[2]
    n = torch.tanh(i_n + _aff(r * h, w_hn, b_hn))
    return (1 - z) * n + z * h


# --- detach_state -------------------------------------------------------------------------------

@mutant("day4.rnn.detach_state", expect=r"modified its input|in place")
def detach_state_in_place(state):
    if isinstance(state, torch.Tensor):
        return state.detach_()
    if isinstance(state, (tuple, list)):
        return type(state)(detach_state_in_place(s) for s in state)
    return state


@mutant("day4.rnn.detach_state", expect=r"tuples stay tuples")
def detach_state_always_list(state):
    if isinstance(state, torch.Tensor):
        return state.detach()
    if isinstance(state, (tuple, list)):
        return [detach_state_always_list(s) for s in state]
    return state


# --- tbptt_train --------------------------------------------------------------------------------

def _detach(state):
    if isinstance(state, torch.Tensor):
        return state.detach()
    return None if state is None else tuple(s.detach() for s in state)


@mutant("day4.rnn.tbptt_train", expect=r"second time|detach|require")
def tbptt_no_detach(model, inputs, targets, loss_fn, optimizer, k):
    state, losses = None, []
    for start in range(0, inputs.shape[0], k):
        optimizer.zero_grad()
        out, state = model(inputs[start:start + k], state)
        loss = loss_fn(out, targets[start:start + k])
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


@mutant("day4.rnn.tbptt_train", expect=r"differs from truncated BPTT|chunk losses|chunks of")
def tbptt_detaches_every_step(model, inputs, targets, loss_fn, optimizer, k):
    if k < 1:
        raise ValueError(k)
    state, losses = None, []
    for start in range(0, inputs.shape[0], k):
        optimizer.zero_grad()
        outs = []
        for t in range(start, min(start + k, inputs.shape[0])):
            out, state = model(inputs[t:t + 1], state)
            state = _detach(state)
            outs.append(out)
        loss = loss_fn(torch.cat(outs), targets[start:start + k])
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


# --- clip_grad_norm -----------------------------------------------------------------------------

@mutant("day4.rnn.clip_grad_norm", expect=r"each tensor by its own norm")
def clip_per_tensor(parameters, max_norm):
    params = [parameters] if isinstance(parameters, torch.Tensor) else list(parameters)
    norms = []
    for p in params:
        if p.grad is None:
            continue
        n = p.grad.norm()
        norms.append(n)
        p.grad.mul_(torch.clamp(max_norm / (n + 1e-6), max=1.0))
    return float(torch.stack(norms).norm()) if norms else 0.0


@mutant("day4.rnn.clip_grad_norm", expect=r"generator")
def clip_reads_generator_twice(parameters, max_norm):
    if isinstance(parameters, torch.Tensor):
        parameters = [parameters]
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return 0.0
    total = torch.stack([g.norm() for g in grads]).norm()
    scale = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    for p in parameters:
        if p.grad is not None:
            p.grad.mul_(scale)
    return float(total)


@mutant("day4.rnn.clip_grad_norm", expect=r"not allowed")
def clip_calls_torch(parameters, max_norm):
    return float(torch.nn.utils.clip_grad_norm_(parameters, max_norm))


@mutant("day4.rnn.tbptt_train", expect=r"stale gradients")
def tbptt_zeroes_after_the_step(model, inputs, targets, loss_fn, optimizer, k):
    """Gradients zeroed at the end of each chunk: the first step adds what was there on entry."""
    if k < 1:
        raise ValueError(k)
    state, losses = None, []
    for start in range(0, inputs.shape[0], k):
        out, state = model(inputs[start:start + k], state)
        loss = loss_fn(out, targets[start:start + k])
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        state = _detach(state)
        losses.append(loss.item())
    return losses
