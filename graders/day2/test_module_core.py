"""Graders for day2/module_core.py: a Module core compared with torch.nn.Module, and Linear.

Oracle: a ``torch.nn.Module`` tree built by the same statements (graders/day2/_module_trees.py)
with the same Parameter and tensor objects, so names, order and identities compare exactly.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from hypothesis import assume, example, given
from hypothesis import strategies as st
from torch import nn

from graders import student
from graders import strategies as ds
from graders.checks import assert_close, equal_values, fail
from graders.day2._module_trees import (NAMES, Op, Program, Tree, build, module_class,
                                        programs)
from graders.forbid import forbidden_calls

mod = student("day2.module_core")

NO_TORCH_MODULE = ("build the registries yourself (dicts in the instance); torch.nn.Parameter is "
                   "the only part of torch.nn this exercise may use")

# Programs the random draws might take long to reach: rebinding, sharing, None slots.
SHARED_PARAM = Program(2, ((2,), (3,)), ((2,),), (
    Op(0, "child", "enc", 1), Op(0, "param", "w", 0), Op(1, "param", "gamma", 0),
    Op(1, "param", "head", 1)))
SHARED_CHILD = Program(3, ((2,), (1,)), ((2,),), (
    Op(0, "child", "enc", 1), Op(0, "child", "head", 2), Op(1, "param", "w", 0),
    Op(2, "param", "w", 1), Op(0, "child", "layer", 1)))
REBOUND = Program(2, ((2,), (3,), (1,)), ((2,),), (
    Op(0, "param", "w", 0), Op(0, "child", "enc", 1), Op(0, "param", "gamma", 2),
    Op(0, "param", "w", 2), Op(0, "param", "enc", 1), Op(0, "none", "gamma")))
BUFFERS = Program(2, ((2,),), ((2,), (3,)), (
    Op(0, "child", "layer", 1), Op(1, "buffer", "b2", 0, persistent=False),
    Op(1, "param", "w", 0), Op(1, "buffer", "gamma", 1), Op(0, "buffer", "head", 0),
    Op(1, "tensor", "gamma", 0)))
# A tree two levels deep (depth first is m0, m1, m3, m2; breadth first would be m0, m1, m2, m3).
DEEP = Program(4, ((2,), (1,), (3,)), ((2,),), (
    Op(0, "child", "enc", 1), Op(0, "child", "head", 2), Op(1, "child", "layer", 3),
    Op(3, "param", "w", 0), Op(2, "param", "w", 1), Op(0, "param", "gamma", 2),
    Op(2, "buffer", "b2", 0), Op(3, "buffer", "b2", 0)))
# A child name set to None and back keeps its place; buffers registered again change persistence.
SLOTS = Program(3, ((2,),), ((2,), (3,)), (
    Op(0, "child", "enc", 1), Op(0, "child", "head", 2), Op(0, "none", "enc"),
    Op(0, "child", "enc", 1), Op(1, "buffer", "b2", 0, persistent=False),
    Op(1, "buffer", "gamma", 1), Op(1, "buffer", "b2", 1), Op(1, "buffer", "gamma", 0,
                                                                persistent=False)))
# Plain attributes (and None) later given a registered value, then read back.
PLAIN_THEN_REGISTERED = Program(2, ((2,),), ((2,),), (
    Op(0, "plain", "w", 7), Op(0, "param", "w", 0), Op(0, "tensor", "enc", 0),
    Op(0, "child", "enc", 1), Op(0, "none", "head"), Op(0, "child", "head", 1),
    Op(1, "buffer", "gamma", 0), Op(1, "none", "gamma"), Op(1, "plain", "layer", 7)))


def _pairs(tree: Tree, pairs) -> list[tuple[str, str]]:
    return [(name, tree.label(value)) for name, value in pairs]


def _explain_params(got: list, expected: list) -> str:
    labels = [label for _, label in got]
    if len(set(labels)) < len(labels):
        return ("A Parameter appears twice: list each Parameter object once, under the first "
                "name met, and walk a child registered under two names once (keep a set of "
                "the ids already yielded).")
    if labels == [label for _, label in expected]:
        return ("Same Parameters in the same order, other names: join the names with '.' "
                "(\"enc.0.w\") and start them with prefix + '.' when a prefix is given, also "
                "with recurse=False.")
    if set(got) == set(expected):
        return ("Same entries, other order: first the module's own parameters in registration "
                "order (a rebound name keeps its place), then each child's, depth first.")
    extra = [name for name, _ in got if name not in {n for n, _ in expected}]
    if extra:
        return (f"{extra} should not be listed: a rebound name leaves its old registry (a child "
                f"or buffer name given a Parameter is a parameter now, and nothing else), and "
                f"None values are skipped.")
    return "Some parameters are missing: walk every child (recursively) and its own parameters."


def _compare(what: str, got: list, expected: list, explain: str = "") -> None:
    if not equal_values(got, expected):
        fail(f"after the statements of the smallest failing input, {what} gives {got}; a "
             f"torch.nn.Module tree built by the same statements gives {expected}. {explain}")


# --- Module: registration and traversal -------------------------------------------------------

@given(program=programs())
@example(program=SHARED_PARAM)
@example(program=SHARED_CHILD)
@example(program=REBOUND)
@example(program=BUFFERS)
@example(program=DEEP)
def test_Module_registers_parameters_like_torch(program):
    """Do named_parameters() and parameters() list torch's names, order and objects, shared ones once?"""
    torch_tree, tree = build(program, module_class(mod))
    for i, (theirs, ours) in enumerate(zip(torch_tree.nodes, tree.nodes)):
        for args, text in (({}, ""), ({"prefix": "net"}, 'prefix="net"'),
                           ({"recurse": False}, "recurse=False"),
                           ({"prefix": "net", "recurse": False}, 'prefix="net", recurse=False')):
            got = _pairs(tree, ours.named_parameters(**args))
            expected = _pairs(torch_tree, theirs.named_parameters(**args))
            _compare(f"m{i}.named_parameters({text})", got, expected,
                     _explain_params(got, expected))
        got = [tree.label(p) for p in ours.parameters()]
        expected = [torch_tree.label(p) for p in theirs.parameters()]
        _compare(f"m{i}.parameters()", got, expected,
                 "parameters() yields the Parameters of named_parameters(), in the same order.")


@given(program=programs())
@example(program=SHARED_CHILD)
@example(program=REBOUND)
@example(program=DEEP)
@example(program=SLOTS)
def test_Module_lists_children_and_modules_like_torch(program):
    """Do children() and modules() list the same modules, in the same order, each once?"""
    torch_tree, tree = build(program, module_class(mod))
    for i, (theirs, ours) in enumerate(zip(torch_tree.nodes, tree.nodes)):
        for method, advice in (
                ("children", "children() yields the direct children in registration order, "
                             "each object once, None and rebound names left out."),
                ("modules", "modules() yields the module itself, then every descendant "
                            "depth first (pre-order), each object once.")):
            got = [tree.label(m) for m in getattr(ours, method)()]
            expected = [torch_tree.label(m) for m in getattr(theirs, method)()]
            extra = sorted(set(got) - set(expected))
            if len(set(got)) < len(got):
                advice = ("A module registered under two names (or reached twice) must be "
                          "listed once. " + advice)
            elif extra:
                advice = (f"{extra} should not be listed: a child name rebound to a Parameter "
                          f"leaves the children, and None values are skipped. " + advice)
            _compare(f"m{i}.{method}()", got, expected, advice)


def _read(tree: Tree, module, name: str) -> str:
    """What reading ``module.<name>`` does: "gives <label>" or "raises <exception type>"."""
    try:
        value = getattr(module, name)
    except NotImplementedError:
        raise
    except Exception as exc:  # noqa: BLE001 - compared with torch's
        return f"raises {type(exc).__name__}"
    return "gives " + (repr(value) if value is None or isinstance(value, int)
                       else tree.label(value))


@given(program=programs())
@example(program=PLAIN_THEN_REGISTERED)
@example(program=REBOUND)
def test_Module_attributes_read_back_like_torch(program):
    """Does reading m.name give the value last assigned or registered (AttributeError when none)?"""
    torch_tree, tree = build(program, module_class(mod))
    for i, (theirs, ours) in enumerate(zip(torch_tree.nodes, tree.nodes)):
        for name in NAMES:
            got, expected = _read(tree, ours, name), _read(torch_tree, theirs, name)
            if got == expected:
                continue
            if expected == "raises AttributeError":
                advice = ("A name never assigned raises AttributeError (a __getattr__ must "
                          "raise AttributeError, not KeyError, or hasattr and getattr(m, name, "
                          "default) break).")
            else:
                advice = ("Reading m.name gives the value last assigned or registered "
                          "(parameters, buffers and children included), and a plain attribute "
                          "given a Parameter or a Module later must not shadow it (remove the "
                          "name from the instance's __dict__ when you register it elsewhere, or "
                          "keep __dict__ up to date).")
            fail(f"after the statements of the smallest failing input, reading m{i}.{name} "
                 f"{got}; on a torch.nn.Module tree it {expected}. {advice}")


@given(program=programs())
@example(program=BUFFERS)
@example(program=SHARED_CHILD)
@example(program=REBOUND)
@example(program=DEEP)
@example(program=SLOTS)
def test_Module_state_dict_like_torch(program):
    """Is state_dict() an OrderedDict of torch's keys in order, detached and sharing storage?"""
    torch_tree, tree = build(program, module_class(mod))
    for i, (theirs, ours) in enumerate(zip(torch_tree.nodes, tree.nodes)):
        got, expected = ours.state_dict(), theirs.state_dict()
        if not isinstance(got, OrderedDict):
            fail(f"m{i}.state_dict() returned a {type(got).__name__}; expected an OrderedDict.")
        advice = ("Per module: its parameters, then its persistent buffers (registration "
                  "order, None skipped), then each child's entries under 'child_name.'; a "
                  "child registered under two names appears under both.")
        non_persistent = [k for k in got if k not in expected and k.rsplit(".", 1)[-1]
                          in {op.name for op in program.ops if not op.persistent}]
        if non_persistent:
            advice = (f"{non_persistent} are non-persistent buffers: they stay out of the state "
                      f"dict. " + advice)
        buffers = [op for op in program.ops if op.kind == "buffer"]
        again = ({op.name for op in buffers if op.persistent}
                 & {op.name for op in buffers if not op.persistent})
        if not non_persistent and [k for k in expected if k not in got
                                   and k.rsplit(".", 1)[-1] in again]:
            advice = ("register_buffer(name, t, persistent=...) sets the buffer's persistence "
                      "anew each time, also for a name that is already a buffer. " + advice)
        _compare(f"list(m{i}.state_dict())", list(got), list(expected), advice)
        for key, value in got.items():
            source = expected[key]
            if not isinstance(value, torch.Tensor):
                fail(f"m{i}.state_dict()['{key}'] is a {type(value).__name__}; expected a tensor.")
            if value.requires_grad:
                fail(f"m{i}.state_dict()['{key}'] requires grad: store value.detach(), not the "
                     f"Parameter itself.")
            if value.data_ptr() != source.data_ptr() or value.shape != source.shape:
                fail(f"m{i}.state_dict()['{key}'] does not share storage with the parameter "
                     f"or buffer it stands for: store value.detach() (same memory), not a "
                     f"copy or clone.")


def _stale_grads(tree: Tree, kinds: list[str]) -> None:
    """Stale gradients: none, a plain tensor, or one still attached to a graph."""
    for i, (p, kind) in enumerate(zip(tree.params, kinds)):
        g = torch.Generator().manual_seed(i)
        stale = torch.randn(p.shape, generator=g, dtype=p.dtype)
        if kind == "graph":  # as left by backward(create_graph=True)
            p.grad = stale.requires_grad_(True) * 2.0
        elif kind == "plain":
            p.grad = stale


@given(program=programs(), set_to_none=st.booleans(), data=st.data())
@example(program=SHARED_PARAM, set_to_none=False, data=None)
def test_Module_zero_grad_like_torch(program, set_to_none, data):
    """Does zero_grad reset stale grads as torch does: to None, or zeroed in place and detached?"""
    cls = module_class(mod)
    torch_tree, tree = build(program, cls, offset=0, student_offset=0)
    n = len(tree.params)
    kinds = ["graph"] * n if data is None else data.draw(
        st.lists(st.sampled_from(["none", "plain", "graph"]), min_size=n, max_size=n),
        label="stale_grads")
    _stale_grads(tree, kinds)
    _stale_grads(torch_tree, kinds)
    before = [None if p.grad is None else p.grad.data_ptr() for p in tree.params]
    tree.nodes[0].zero_grad(set_to_none=set_to_none)
    torch_tree.nodes[0].zero_grad(set_to_none=set_to_none)
    call = f"m0.zero_grad(set_to_none={set_to_none})"
    for i, (ours, theirs) in enumerate(zip(tree.params, torch_tree.params)):
        if theirs.grad is None:
            if ours.grad is not None:
                fail(f"after {call}, p{i}.grad is a tensor; expected None: set the grad of "
                     f"every parameter of parameters() to None.")
            continue
        if ours.grad is None:
            why = ("p{i} is not reachable from m0, so it keeps its gradient" if set_to_none
                   else "set_to_none=False zeroes each existing grad in place, it never sets "
                   "it to None").replace("{i}", str(i))
            fail(f"after {call}, p{i}.grad is None; expected {theirs.grad.tolist()} ({why}).")
        assert_close(ours.grad.detach(), theirs.grad, rtol=0, atol=0,
                     what=f"p{i}.grad after {call}")
        if not set_to_none and ours.grad.data_ptr() != before[i]:
            fail(f"after {call}, p{i}.grad is a new tensor: zero the existing .grad in place "
                 f"(grad.zero_()), as torch does.")
        if ours.grad.requires_grad and not theirs.grad.requires_grad:
            fail(f"after {call}, p{i}.grad still requires grad (it was attached to a graph, as "
                 f"after backward(create_graph=True)): detach it first (grad.detach_(), or "
                 f"grad.requires_grad_(False) for a leaf), as torch does.")


@given(program=programs(), calls=st.lists(st.tuples(st.integers(0, 3), st.sampled_from(
    ["train()", "train(True)", "train(False)", "eval()"])), min_size=1, max_size=4))
def test_Module_train_and_eval_are_recursive(program, calls):
    """Do train(mode)/eval() return self and set `training` on every descendant, as torch does?"""
    cls = module_class(mod)
    fresh = cls()
    if fresh.training is not True:
        fail(f"a fresh Module has training == {fresh.training!r}; expected True.")
    torch_tree, tree = build(program, cls)
    done = []
    for node, call in calls:
        node %= program.nodes
        done.append(f"m{node}.{call}")
        for t in (tree, torch_tree):
            m = t.nodes[node]
            out = m.eval() if call == "eval()" else (
                m.train() if call == "train()" else m.train(call == "train(True)"))
            if t is tree and out is not m:
                fail(f"m{node}.{call} returned {t.label(out)}; expected the module itself "
                     f"(return self, so that model = Net().eval() works).")
        got = [m.training for m in tree.nodes]
        expected = [m.training for m in torch_tree.nodes]
        if not equal_values(got, expected):
            which = [f"m{i}" for i, (a, b) in enumerate(zip(got, expected)) if a != b]
            fail(f"after {'; '.join(done)}, the training flags of m0..m{program.nodes - 1} are "
                 f"{got}; torch gives {expected} ({', '.join(which)} differ). train(mode) sets "
                 f"`training` on the module and, recursively, on every descendant "
                 f"(call child.train(mode) for each child).")


def test_Module_call_runs_forward():
    """Does calling a module run forward once with the same arguments and return its result?"""
    calls = []
    marker = object()

    class Probe(module_class(mod)):
        def forward(self, x, y=0, *, scale=1.0):
            calls.append((x, y, scale))
            return marker, x * scale + y

    probe = Probe()
    out = probe(2.0, 1.0, scale=3.0)
    if calls != [(2.0, 1.0, 3.0)]:
        fail(f"probe(2.0, 1.0, scale=3.0) called forward with {calls}; expected one call with "
             f"(2.0, 1.0, scale=3.0): __call__(*args, **kwargs) returns "
             f"self.forward(*args, **kwargs).")
    if not (isinstance(out, tuple) and out[0] is marker and out[1] == 7.0):
        fail(f"probe(2.0, 1.0, scale=3.0) returned {out!r}; expected forward's own result.")


def _refuses(statement, what: str, advice: str) -> None:
    try:
        statement()
    except TypeError:
        return
    except NotImplementedError:
        raise
    except Exception as exc:  # noqa: BLE001
        fail(f"{what} raised {type(exc).__name__}: {exc}; torch raises TypeError. {advice}")
    fail(f"{what} was accepted; torch.nn.Module raises TypeError. {advice}")


def test_Module_setattr_keeps_slots_and_refuses_like_torch():
    """Do refused assignments raise TypeError, and do None slots, buffers and Parameters behave as torch's?"""
    cls = module_class(mod)
    m, child = cls(), cls()
    w, w2, v = (nn.Parameter(torch.ones(2)), nn.Parameter(torch.zeros(2)),
                nn.Parameter(torch.full((3,), 2.0)))
    m.alpha, m.beta, m.enc = w, v, child
    _refuses(lambda: setattr(m, "alpha", torch.zeros(2)), "m.alpha = torch.zeros(2) (alpha "
             "is a parameter)", "Only a Parameter or None may be assigned to a parameter name.")
    _refuses(lambda: setattr(m, "alpha", cls()), "m.alpha = Module() (alpha is a parameter)",
             "torch checks 'the name is a parameter' before 'the value is a Module'.")
    _refuses(lambda: setattr(m, "enc", 3), "m.enc = 3 (enc is a child module)",
             "Only a Module or None may be assigned to a child name.")
    m.alpha = None
    if m.alpha is not None:
        fail("after m.alpha = None, m.alpha is not None.")
    _refuses(lambda: setattr(m, "alpha", torch.zeros(2)), "m.alpha = torch.zeros(2) after "
             "m.alpha = None", "None keeps the name registered as a parameter (value None).")
    m.alpha = w2  # the slot keeps its place: alpha stays before beta
    names = [n for n, _ in m.named_parameters()]
    if names != ["alpha", "beta"]:
        fail(f"m.alpha = p, m.beta = q, m.enc = child, m.alpha = None, m.alpha = p2 gives "
             f"named_parameters() names {names}; torch gives ['alpha', 'beta']: a rebound "
             f"parameter name keeps its place in the registration order.")
    if m.alpha is not w2:
        fail("after m.alpha = p2, reading m.alpha does not give p2.")
    m.register_buffer("stats", torch.zeros(3))
    m.stats = torch.ones(3)
    _refuses(lambda: setattr(m, "stats", 5), "m.stats = 5 (stats is a buffer)",
             "A buffer name takes a tensor or None.")
    keys = list(m.state_dict())
    if "stats" not in keys or not equal_values(m.state_dict()["stats"], torch.ones(3)):
        fail(f"after m.register_buffer('stats', zeros) and m.stats = torch.ones(3), the state "
             f"dict is {keys} with stats = {m.state_dict().get('stats')}; a tensor assigned to "
             f"a buffer name replaces the buffer and stays a buffer.")
    m.enc = None
    if m.enc is not None:
        fail("after m.enc = None (enc was a child module), m.enc is not None.")
    _refuses(lambda: setattr(m, "enc", 3), "m.enc = 3 after m.enc = None (enc was a child "
             "module)", "None keeps the name registered as a child (value None).")
    m.enc = nn.Parameter(torch.ones(1))  # a Parameter on a child name: now a parameter
    if list(m.children()):
        fail("after m.enc = Parameter(...) (enc was a child), children() still lists enc: a "
             "Parameter goes to the parameters whatever the name held before, and the name "
             "leaves the children.")
    names = [n for n, _ in m.named_parameters()]
    if names != ["alpha", "beta", "enc"]:
        fail(f"after m.enc = Parameter(...) (enc was a child), named_parameters() names are "
             f"{names}; torch gives ['alpha', 'beta', 'enc'].")


# --- Module: load_state_dict ------------------------------------------------------------------

def _load(target, state, strict: bool):
    try:
        return "ok", target.load_state_dict(state, strict=strict)
    except RuntimeError as exc:
        return "RuntimeError", exc


@given(program=programs(), drop=st.sets(st.integers(0, 6), max_size=2),
       extra=st.sampled_from([None, "zz", "enc.zz", "w.zz", "layer.b2"]), strict=st.booleans())
@example(program=SHARED_CHILD, drop=set(), extra=None, strict=True)
@example(program=BUFFERS, drop={0}, extra="zz", strict=False)
@example(program=BUFFERS, drop=set(), extra="layer.b2", strict=False)  # a non-persistent buffer
def test_Module_load_state_dict_like_torch(program, drop, extra, strict):
    """Does load_state_dict copy in place, report torch's missing/unexpected keys, and honour strict?"""
    cls = module_class(mod)
    torch_tree, tree = build(program, cls, offset=0, student_offset=0)
    source_tree, _ = build(program, cls, offset=1)
    if extra is not None and "." in extra:  # torch's quirk: a key under a None child is ignored
        assume(torch_tree.nodes[0]._modules.get(extra.split(".")[0], 0) is not None)
    source = OrderedDict((k, v.clone()) for i, (k, v) in
                         enumerate(source_tree.nodes[0].state_dict().items()) if i not in drop)
    if extra is not None:
        source[extra] = torch.zeros(1, dtype=torch.float64)
    call = f"m0.load_state_dict(state with keys {list(source)}, strict={strict})"
    outcome, expected = _load(torch_tree.nodes[0], source, strict)
    storage = [t.data_ptr() for t in tree.params + tree.tensors]
    got_outcome, got = _load(tree.nodes[0], source, strict)
    if outcome == "RuntimeError":
        if got_outcome != "RuntimeError":
            fail(f"{call} returned {got!r}; torch raises RuntimeError ({expected}): with "
                 f"strict=True, missing or unexpected keys are an error.")
        return
    if got_outcome == "RuntimeError":
        fail(f"{call} raised RuntimeError: {got}; torch loads it and returns {expected}.")
    if not (isinstance(got, tuple) and hasattr(got, "missing_keys")
            and hasattr(got, "unexpected_keys")):
        fail(f"{call} returned {got!r}; expected IncompatibleKeys(missing_keys=[...], "
             f"unexpected_keys=[...]), the named tuple given in the module.")
    for field in ("missing_keys", "unexpected_keys"):
        if sorted(getattr(got, field)) != sorted(getattr(expected, field)):
            fail(f"{call} returned {field}={list(getattr(got, field))}; torch gives "
                 f"{list(getattr(expected, field))}. Missing: keys this module's state_dict() "
                 f"has but the given dict lacks; unexpected: given keys that match no parameter "
                 f"or persistent buffer (a non-persistent buffer's name is unexpected too).")
    sources = {v.data_ptr() for v in source.values()}
    for before, (label, ours, theirs) in zip(storage, [
            (f"p{i}", a, b) for i, (a, b) in enumerate(zip(tree.params, torch_tree.params))] + [
            (f"t{i}", a, b) for i, (a, b) in enumerate(zip(tree.tensors, torch_tree.tensors))]):
        if ours.data_ptr() in sources:
            fail(f"after {call}, {label} shares memory with the given state dict: copy the "
                 f"values into the existing tensor (copy_ under torch.no_grad()), never hold "
                 f"the source's tensors.")
        if ours.data_ptr() != before:
            fail(f"after {call}, {label} has new memory (its .data was replaced): copy the "
                 f"values into the existing tensor in place (tensor.copy_(value) under "
                 f"torch.no_grad()), as torch does, so that views of it and its dtype stay.")
        if not equal_values(ours.detach(), theirs.detach()):
            now = [tree.label(v) for v in tree.nodes[0].parameters()]
            replaced = any(not label.startswith("p") for label in now)
            fail(f"after {call}, {label} holds {ours.detach().tolist()}; torch's {label} holds "
                 f"{theirs.detach().tolist()}. "
                 + ("The Parameter objects were replaced: copy the values into each existing "
                    "parameter and buffer in place (tensor.copy_(value) under torch.no_grad())."
                    if replaced else "Copy every key's value into its tensor in place "
                    "(tensor.copy_(value) under torch.no_grad())."))


def test_Module_load_state_dict_rejects_a_shape_mismatch():
    """Does a tensor of another shape raise RuntimeError, with strict=True and strict=False?"""
    cls = module_class(mod)
    for strict in (True, False):
        for shape in ((3, 2), (3,)):  # (3,) would broadcast silently in copy_
            m = cls()
            m.kernel = nn.Parameter(torch.zeros(2, 3))
            state = OrderedDict(kernel=torch.ones(shape))
            what = f"loading a {shape} tensor into a (2, 3) parameter with strict={strict}"
            try:
                m.load_state_dict(state, strict=strict)
            except RuntimeError:
                continue
            except NotImplementedError:
                raise
            except Exception as exc:  # noqa: BLE001
                fail(f"{what} raised {type(exc).__name__}: {exc}; expected RuntimeError.")
            fail(f"{what} was accepted; torch raises RuntimeError whatever strict is (compare "
                 f"the shapes yourself: copy_ broadcasts a smaller tensor without a word).")


def test_Module_does_not_use_torch_nn_Module():
    """Is Module built without torch.nn.Module (no subclassing, no calls to its methods)?"""
    cls = module_class(mod)
    if issubclass(cls, nn.Module):
        fail(f"Module subclasses torch.nn.Module, which is not allowed in this exercise: "
             f"{NO_TORCH_MODULE}.")
    with forbidden_calls("torch.nn.Module", what="Module", why=NO_TORCH_MODULE):
        root, child = cls(), cls()
        root.w = nn.Parameter(torch.ones(2))
        root.enc = child
        child.register_buffer("stats", torch.zeros(1))
        child.v = nn.Parameter(torch.ones(1))
        list(root.named_parameters())
        list(root.parameters())
        list(root.children())
        list(root.modules())
        root.eval().train()
        root.zero_grad()
        root.load_state_dict(root.state_dict())


# --- Linear -----------------------------------------------------------------------------------

def _linear(*args, **kwargs):
    layer = mod.Linear(*args, **kwargs)
    if isinstance(layer, nn.Module):
        fail("Linear is a torch.nn.Module: build it on your own Module (class Linear(Module)).")
    return layer


@given(in_f=st.integers(1, 6), out_f=st.integers(1, 6), bias=st.booleans())
def test_Linear_registers_weight_then_bias(in_f, out_f, bias):
    """Are weight (out, in) then bias (out,) registered as float32 Parameters (bias None when bias=False)?"""
    layer = _linear(in_f, out_f, bias=bias)
    what = f"Linear({in_f}, {out_f}, bias={bias})"
    named = [(n, tuple(p.shape), type(p).__name__, p.dtype) for n, p in layer.named_parameters()]
    expected = [("weight", (out_f, in_f), "Parameter", torch.float32)]
    if bias:
        expected.append(("bias", (out_f,), "Parameter", torch.float32))
    elif layer.bias is not None:
        fail(f"{what}.bias is {layer.bias!r}; expected None.")
    if not equal_values(named, expected):
        fail(f"{what}.named_parameters() gives {named}; expected {expected}: register weight "
             f"(out_features, in_features) first, then bias (out_features,), both "
             f"torch.nn.Parameter in float32.")
    if (layer.in_features, layer.out_features) != (in_f, out_f):
        fail(f"{what} stores in_features={layer.in_features}, out_features="
             f"{layer.out_features}; expected {in_f} and {out_f}.")


@given(data=st.data(), in_f=st.integers(1, 5), out_f=st.integers(1, 4), bias=st.booleans(),
       lead=ds.shapes(min_dims=0, max_dims=2, max_side=3), dtype=ds.dtypes())
def test_Linear_matches_F_linear(data, in_f, out_f, bias, lead, dtype):
    """Does forward equal F.linear(x, weight, bias) on (..., in) inputs, gradients included?"""
    torch.manual_seed(0)
    layer = _linear(in_f, out_f, bias=bias)
    if dtype == torch.float64:
        layer.weight = nn.Parameter(layer.weight.detach().double())
        if bias:
            layer.bias = nn.Parameter(layer.bias.detach().double())
    x = data.draw(ds.tensors(lead + (in_f,), dtype), label="x").requires_grad_(True)
    tol = dict(rtol=1e-6, atol=1e-6) if dtype == torch.float32 else dict(rtol=1e-12, atol=1e-12)
    what = f"Linear({in_f}, {out_f}, bias={bias})(x of shape {tuple(x.shape)}, {dtype})"
    out = layer(x)
    w = layer.weight.detach().clone().requires_grad_(True)
    b = layer.bias.detach().clone().requires_grad_(True) if bias else None
    x2 = x.detach().clone().requires_grad_(True)
    expected = nn.functional.linear(x2, w, b)
    assert_close(out, expected, **tol, what=what)
    g = torch.randn(expected.shape, generator=torch.Generator().manual_seed(1), dtype=dtype)
    (expected * g).sum().backward()
    if not out.requires_grad:
        fail(f"{what} does not require grad: compute it from the Parameters themselves (not "
             f".data or a detached copy) so that backward reaches them.")
    (out * g).sum().backward()
    if layer.weight.grad is None or (bias and layer.bias.grad is None):
        fail(f"after backward through {what}, weight.grad or bias.grad is None: use the "
             f"Parameters themselves in forward (not .data or a copy).")
    assert_close(layer.weight.grad, w.grad, **tol, what=f"weight.grad after {what}")
    if bias:
        assert_close(layer.bias.grad, b.grad, **tol, what=f"bias.grad after {what}")
    assert_close(x.grad, x2.grad, **tol, what=f"x.grad after {what}")


def test_Linear_accepts_any_memory_layout():
    """Does forward work on non-contiguous inputs (permuted, sliced) with leading dimensions?"""
    torch.manual_seed(0)
    layer = _linear(4, 3)
    base = torch.randn(5, 2, 4, generator=torch.Generator().manual_seed(2))
    for how, x in (("x.permute(1, 2, 0).contiguous().permute(2, 0, 1)",
                    base.permute(1, 2, 0).contiguous().permute(2, 0, 1)),
                   ("every second element of a (5, 2, 9) tensor's last dimension",
                    ds._sliced(base))):
        what = f"Linear(4, 3)(x of shape (5, 2, 4), non-contiguous: {how})"
        try:
            out = layer(x)
        except NotImplementedError:
            raise
        except Exception as exc:  # noqa: BLE001 - reported to the student
            reason = str(exc).rstrip(".")
            fail(f"{what} raised {type(exc).__name__}: {reason}. Inputs come in any memory "
                 f"layout: use reshape (not view) or matmul, which accept any strides.")
        expected = nn.functional.linear(x, layer.weight.detach(), layer.bias.detach())
        assert_close(out.detach(), expected, rtol=1e-6, atol=1e-6, what=what)


def test_Linear_initialises_like_nn_Linear():
    """Are weight and bias uniform on [-1/sqrt(in), 1/sqrt(in)], filling that range?"""
    torch.manual_seed(0)
    for in_f, out_f in ((400, 60), (3, 200)):
        layer = _linear(in_f, out_f)
        bound = in_f ** -0.5
        for name in ("weight", "bias"):
            values = getattr(layer, name).detach()
            lo, hi = values.min().item(), values.max().item()
            what = f"Linear({in_f}, {out_f}).{name}"
            if lo < -bound * (1 + 1e-6) or hi > bound * (1 + 1e-6):
                fail(f"{what} has values in [{lo:.4g}, {hi:.4g}], outside the bound "
                     f"+-1/sqrt(in_features) = +-{bound:.4g}: initialise with "
                     f"uniform_(-bound, bound), as nn.Linear does.")
            if lo > -0.5 * bound or hi < 0.5 * bound:
                fail(f"{what} has values in [{lo:.4g}, {hi:.4g}]; uniform values on "
                     f"+-{bound:.4g} fill that range. Initialise with uniform_(-bound, bound) "
                     f"(not zeros or a tiny scale).")


def test_Linear_is_built_on_your_Module():
    """Is Linear built without torch.nn.Module and torch.nn.Linear?"""
    with forbidden_calls("torch.nn.Module", "torch.nn.Linear", what="Linear",
                         why="inherit from your own Module and register weight and bias as "
                             "Parameters yourself"):
        layer = _linear(4, 3)
        layer(torch.ones(2, 4))
        list(layer.named_parameters())
