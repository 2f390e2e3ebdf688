"""Forbidden-call detection: what the code under test really calls, seen at run time.

Where an exercise teaches a mechanism (a transpose built from strides, a backward pass by hand,
conv via im2col), calling the library function that does the whole job must fail, and say so.
Three observers run while the student's code runs:

- a ``TorchFunctionMode`` that sees every torch function, Tensor method and property
  (``torch.transpose``, ``Tensor.transpose``, ``Tensor.T``, ``F.conv2d``, ``torch.ops.aten...``);
- a profile hook that sees every Python function and builtin called (``torch.func.jacrev``,
  ``sklearn.metrics.confusion_matrix``, ``nn.Dropout.forward``, a Tensor method or a
  ``torch.ops`` operator called with torch-function handling off, ...), however it was imported;
- a ``TorchDispatchMode`` that sees the operators of torch's dispatcher (``aten::transpose``,
  ``aten::convolution``, ``aten::im2col`` ...) whatever path led there: ``torch.ops.aten``,
  ``torch._C._nn``, code under ``torch._C.DisableTorchFunction()``. Each forbidden name stands
  for the operators only it reaches (:data:`ATEN_FAMILIES`: ``F.conv2d`` for
  ``aten::convolution``, ``torch.softmax`` for ``aten::_softmax``), never for operators that
  honest code reaches too (``F.dropout`` on the CPU is ``bernoulli_`` and ``mul``: it is seen by
  the other two). Where autograd is forbidden, an operator run by autograd's engine is seen too.

Code that hides its calls from the observers fails as well: running them in another thread, or
taking the observers' modes off torch's mode stacks.

Comments and docstrings never matter: only calls that happen do. ``count_torch_calls`` counts
torch operations, which the graders use to tell a vectorised function from a Python loop.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
import sysconfig
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import BuiltinFunctionType, CodeType, FrameType, ModuleType
from typing import Any

from torch.overrides import TorchFunctionMode, resolve_name

__all__ = ["AUTOGRAD", "ATEN_FAMILIES", "by_hand", "forbidden_calls", "count_torch_calls",
           "source_uses"]

import torch
from torch._ops import OpOverload, OpOverloadPacket
from torch.utils._python_dispatch import TorchDispatchMode

_TRANSPOSE = ("transpose", "transpose_")
_PERMUTE = ("permute", "numpy_T")
_NLL = ("nll_loss", "nll_loss_nd", "nll_loss2d", "nll_loss_forward", "nll_loss2d_forward",
        "cross_entropy_loss")
_CONV = ("convolution", "_convolution", "_convolution_mode", "convolution_overrideable", "conv1d",
         "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
         "conv_tbc", "_slow_conv2d_forward", "thnn_conv2d", "slow_conv3d", "slow_conv3d_forward",
         "slow_conv_dilated2d", "slow_conv_dilated3d", "slow_conv_transpose2d",
         "slow_conv_transpose3d", "_conv_depthwise2d", "conv_depthwise3d", "mkldnn_convolution",
         "_nnpack_spatial_convolution", "cudnn_convolution", "cudnn_convolution_transpose",
         "miopen_convolution", "miopen_convolution_transpose", "miopen_depthwise_convolution",
         "_mps_convolution", "_mps_convolution_transpose")
_CONV_BACKWARD = ("convolution_backward", "convolution_backward_overrideable",
                  "_slow_conv2d_backward", "slow_conv_transpose2d_backward",
                  "mkldnn_convolution_backward")
_POOL = ("max_pool1d", "max_pool1d_with_indices", "max_pool2d", "max_pool2d_with_indices",
         "max_pool3d", "max_pool3d_with_indices", "mkldnn_max_pool2d", "mkldnn_max_pool3d",
         "quantized_max_pool1d", "quantized_max_pool2d", "quantized_max_pool3d", "avg_pool1d",
         "avg_pool2d", "avg_pool3d", "adaptive_avg_pool1d", "adaptive_avg_pool2d",
         "adaptive_avg_pool3d", "_adaptive_avg_pool2d", "_adaptive_avg_pool3d",
         "mkldnn_adaptive_avg_pool2d", "adaptive_max_pool1d", "adaptive_max_pool2d",
         "adaptive_max_pool3d", "fractional_max_pool2d", "fractional_max_pool3d")
_BATCH_NORM = ("batch_norm", "native_batch_norm", "_native_batch_norm_legit",
               "_native_batch_norm_legit_no_training", "_native_batch_norm_legit_functional",
               "_batch_norm_impl_index", "_batch_norm_with_update",
               "_batch_norm_with_update_functional", "_batch_norm_no_update", "cudnn_batch_norm",
               "miopen_batch_norm", "instance_norm")
_DROPOUT = ("dropout", "dropout_", "native_dropout", "_fused_dropout", "feature_dropout",
            "feature_dropout_", "alpha_dropout", "alpha_dropout_", "feature_alpha_dropout",
            "feature_alpha_dropout_")
_RNN = ("rnn_tanh", "rnn_relu", "mkldnn_rnn", "mkldnn_rnn_layer", "_cudnn_rnn", "miopen_rnn")
_SDPA = ("scaled_dot_product_attention", "_scaled_dot_product_attention_math",
         "_scaled_dot_product_flash_attention", "_scaled_dot_product_flash_attention_for_cpu",
         "_scaled_dot_product_efficient_attention", "_scaled_dot_product_cudnn_attention",
         "_scaled_dot_product_fused_attention_overrideable", "_flash_attention_forward",
         "_efficient_attention_forward", "_cudnn_attention_forward", "_fused_sdp_choice")

#: The aten operators a forbidden name stands for, besides the operator of its own name: what
#: the dispatcher sees when that function runs (after torch's own decompositions), and only
#: what an honest solution of the exercises that forbid it does not reach. Looked up by the
#: whole dotted name first, then by its last part.
ATEN_FAMILIES: dict[str, tuple[str, ...]] = {
    "transpose": _TRANSPOSE, "transpose_": _TRANSPOSE, "swapaxes": _TRANSPOSE,
    "swapdims": _TRANSPOSE, "mT": _TRANSPOSE, "mH": _TRANSPOSE + ("adjoint",),
    "H": _TRANSPOSE + ("adjoint",), "t": ("t",), "t_": ("t_",),
    "T": _PERMUTE, "permute": _PERMUTE, "movedim": _PERMUTE + ("movedim",),
    "moveaxis": _PERMUTE + ("moveaxis",),
    "expand": ("expand",), "expand_as": ("expand",), "broadcast_to": ("expand",),
    "broadcast_tensors": ("expand",),
    "unfold": ("unfold", "im2col"), "Unfold": ("im2col",),
    "logsumexp": ("logsumexp", "special_logsumexp"),
    "softmax": ("softmax", "_softmax", "_safe_softmax", "special_softmax"),
    "log_softmax": ("log_softmax", "_log_softmax", "special_log_softmax"),
    "cross_entropy": _NLL, "nll_loss": _NLL, "nll_loss2d": _NLL, "CrossEntropyLoss": _NLL,
    "NLLLoss": _NLL,
    "binary_cross_entropy_with_logits": ("binary_cross_entropy_with_logits",),
    "BCEWithLogitsLoss": ("binary_cross_entropy_with_logits",),
    "binary_cross_entropy": ("binary_cross_entropy",), "BCELoss": ("binary_cross_entropy",),
    **{name: _CONV for name in ("conv1d", "conv2d", "conv3d", "conv_transpose1d",
                                "conv_transpose2d", "conv_transpose3d", "convolution", "Conv1d",
                                "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d",
                                "ConvTranspose3d")},
    "torch.nn.grad": _CONV_BACKWARD,
    **{name: _POOL for name in ("max_pool1d", "max_pool2d", "max_pool3d",
                                "max_pool2d_with_indices", "avg_pool1d", "avg_pool2d",
                                "avg_pool3d", "adaptive_max_pool1d", "adaptive_max_pool2d",
                                "adaptive_avg_pool1d", "adaptive_avg_pool2d", "lp_pool1d",
                                "lp_pool2d", "MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d",
                                "AvgPool2d", "AvgPool3d", "AdaptiveMaxPool2d",
                                "AdaptiveAvgPool2d", "LPPool2d")},
    **{name: _BATCH_NORM for name in ("batch_norm", "native_batch_norm", "instance_norm",
                                      "BatchNorm1d", "BatchNorm2d", "BatchNorm3d",
                                      "InstanceNorm1d", "InstanceNorm2d")},
    "layer_norm": ("layer_norm", "native_layer_norm"), "LayerNorm": ("native_layer_norm",),
    "group_norm": ("group_norm", "native_group_norm"), "GroupNorm": ("native_group_norm",),
    **{name: _DROPOUT for name in ("dropout", "dropout1d", "dropout2d", "dropout3d",
                                   "alpha_dropout", "feature_alpha_dropout", "native_dropout",
                                   "Dropout", "Dropout1d", "Dropout2d", "Dropout3d",
                                   "AlphaDropout")},
    "RNNCell": ("rnn_tanh_cell", "rnn_relu_cell"), "rnn_tanh_cell": ("rnn_tanh_cell",),
    "rnn_relu_cell": ("rnn_relu_cell",), "RNN": _RNN, "rnn_tanh": _RNN, "rnn_relu": _RNN,
    "LSTMCell": ("lstm_cell", "_thnn_fused_lstm_cell"),
    "lstm_cell": ("lstm_cell", "_thnn_fused_lstm_cell"), "LSTM": ("lstm",) + _RNN,
    "lstm": ("lstm",) + _RNN, "GRUCell": ("gru_cell", "_thnn_fused_gru_cell"),
    "gru_cell": ("gru_cell", "_thnn_fused_gru_cell"), "GRU": ("gru",) + _RNN,
    "gru": ("gru",) + _RNN,
    "scaled_dot_product_attention": _SDPA,
    "MultiheadAttention": ("_native_multi_head_attention",),
    "multi_head_attention_forward": ("_native_multi_head_attention",),
}

#: The ways into autograd's engine: forbidding one forbids whatever runs the engine.
_ENGINE_ENTRIES = ("torch.autograd.backward", "torch.autograd.grad", "torch.Tensor.backward")
#: Names that stand for no operator of their own name (autograd is seen another way).
_NO_ATEN = frozenset({"backward", "grad", "functional", "func", "vmap", "enable_grad"})

#: Builtins that take the observers' modes off torch's mode stacks.
_MODE_SWITCHES = tuple(
    getattr(torch._C, name) for name in (
        "_pop_torch_dispatch_stack", "_pop_torch_function_stack", "_set_dispatch_mode",
        "_unset_dispatch_mode", "_set_torch_function_mode", "_unset_torch_function_mode",
    ) if hasattr(torch._C, name)
)
#: Python functions that take them off (the context managers of torch's own machinery).
_MODE_SWITCH_FUNCTIONS: tuple[Any, ...] = ()
try:
    from torch.utils import _python_dispatch as _pd

    _MODE_SWITCH_FUNCTIONS = tuple(
        getattr(_pd, name) for name in ("_disable_current_modes", "_pop_mode_temporarily",
                                        "_pop_mode") if hasattr(_pd, name))
except ImportError:  # pragma: no cover
    pass
_MODE_SWITCH_CODES = {inspect.unwrap(f).__code__: f"{f.__module__}.{f.__name__}"
                      for f in _MODE_SWITCH_FUNCTIONS if hasattr(inspect.unwrap(f), "__code__")}
_THREAD_STARTS = tuple(
    getattr(__import__("_thread"), name) for name in ("start_new_thread", "start_joinable_thread")
    if hasattr(__import__("_thread"), name)
)
_OP_CALL_CODES = frozenset(c for c in (getattr(OpOverload.__call__, "__code__", None),
                                       getattr(OpOverloadPacket.__call__, "__code__", None)) if c)
_TORCH_DIR = os.path.dirname(torch.__file__) + os.sep
_LIBRARY_DIRS = tuple(sorted({
    os.path.realpath(p) + os.sep for key in ("stdlib", "platstdlib", "purelib", "platlib")
    if (p := sysconfig.get_paths().get(key))
} | {os.path.dirname(os.path.realpath(__file__)) + os.sep}))
_current_graph_task_id = getattr(torch._C, "_current_graph_task_id", None)


def _aten_names(name: str, obj: Any) -> frozenset[str]:
    """The aten operators (by their name, ``transpose``) that the forbidden ``name`` stands for."""
    if isinstance(obj, (OpOverload, OpOverloadPacket)):
        return frozenset({obj.__name__.split(".")[0]})
    last = name.rsplit(".", 1)[-1]
    family = ATEN_FAMILIES.get(name)
    if family is None and (isinstance(obj, ModuleType) or last in _NO_ATEN or name in AUTOGRAD):
        return frozenset()
    out = set(family or ATEN_FAMILIES.get(last, ()))
    if last not in _NO_ATEN:
        out.add(last)
    return frozenset(n for n in out if _is_aten(n))


def _is_aten(name: str) -> bool:
    try:
        getattr(torch.ops.aten, name)
    except (AttributeError, RuntimeError):
        return False
    return True


def _library_frame(frame: FrameType | None) -> bool:
    """True for a frame of torch, the standard library, an installed package or the graders."""
    if frame is None:
        return True
    filename = frame.f_code.co_filename
    if filename.startswith(_TORCH_DIR):
        return True
    real = os.path.realpath(filename) if os.path.isabs(filename) else filename
    return real.startswith(_LIBRARY_DIRS)


def _resolve(dotted: str) -> Any:
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            if isinstance(obj, type) and attr in vars(obj) and not callable(vars(obj)[attr]):
                obj = vars(obj)[attr]  # a property or getset descriptor: keep the descriptor
            else:
                obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


def _codes_of(obj: Any) -> set[CodeType]:
    out: set[CodeType] = set()
    if isinstance(obj, type):
        for value in vars(obj).values():
            out |= _codes_of(value) if inspect.isfunction(value) else set()
        return out
    fn = inspect.unwrap(obj) if callable(obj) else obj
    code = getattr(fn, "__code__", None)
    if isinstance(code, CodeType):
        out.add(code)
    return out


class _Spec:
    """The forbidden names, resolved once into things the observers can match quickly."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names
        self.torch_names: dict[str, str] = {}
        self.objects: list[tuple[Any, str]] = []
        self.codes: dict[CodeType, str] = {}
        self.dirs: list[tuple[str, str]] = []
        self.aten: dict[str, str] = {}  # aten operator name -> the forbidden name it stands for
        self.methods: dict[str, str] = {}  # Tensor method name -> forbidden name
        #: forbidding a way into autograd's engine forbids every operator the engine runs
        self.autograd = next((n for n in names if n in _ENGINE_ENTRIES), None)
        for name in names:
            try:
                obj = _resolve(name)
            except (ImportError, AttributeError):
                continue  # e.g. sklearn not installed: nothing to forbid
            for op in _aten_names(name, obj):
                self.aten.setdefault(op, name)
            if name.startswith("torch.Tensor."):
                self.methods[name.rsplit(".", 1)[-1]] = name
            if isinstance(obj, ModuleType):
                for attr, value in vars(obj).items():
                    if attr.startswith("_"):
                        continue
                    if callable(value):
                        self.objects.append((value, name))
                        for code in _codes_of(value):
                            self.codes[code] = name
                path = getattr(obj, "__file__", None)
                if path:  # a package: every file under its folder; a module: that file
                    base = os.path.dirname(path) + os.sep if path.endswith("__init__.py") else path
                    self.dirs.append((base, name))
                continue
            if hasattr(obj, "__get__") and not callable(obj):
                self.torch_names[f"{name}.__get__"] = name
            self.objects.append((obj, name))
            rname = None
            try:
                rname = resolve_name(obj)
            except Exception:  # noqa: BLE001
                pass
            if rname:
                self.torch_names[rname] = name
            self.torch_names.setdefault(name, name)
            for code in _codes_of(obj):
                self.codes[code] = name

    def match_op(self, op: Any) -> str | None:
        """An operator of ``torch.ops`` (an overload or a packet), by its aten name."""
        try:
            if op.namespace != "aten":
                return None
            return self.aten.get(op.__name__.split(".")[0])
        except Exception:  # noqa: BLE001
            return None

    def match_torch(self, func: Any) -> str | None:
        if isinstance(func, (OpOverload, OpOverloadPacket)):
            hit = self.match_op(func)
            if hit:
                return hit
        try:
            rname = resolve_name(func)
        except Exception:  # noqa: BLE001
            rname = None
        if rname and rname in self.torch_names:
            return self.torch_names[rname]
        return self.match_object(func)

    def match_object(self, func: Any) -> str | None:
        for obj, name in self.objects:
            try:
                if func is obj or func == obj:
                    return name
            except Exception:  # noqa: BLE001
                continue
        if type(func) is BuiltinFunctionType:
            return self.match_builtin(func)
        return None

    def match_builtin(self, func: Any) -> str | None:
        """A builtin of torch called directly: a bound Tensor method (``x.transpose`` with
        torch-function handling off) or a function of ``torch._C`` (``torch._C._nn.im2col``)."""
        owner = getattr(func, "__self__", None)
        fname = getattr(func, "__name__", "")
        if isinstance(owner, torch._C.TensorBase):
            hit = self.methods.get(fname)
            if hit:
                return hit
        elif not str(getattr(func, "__module__", None) or "").startswith("torch"):
            return None
        return self.aten.get(fname)

    def match_code(self, code: CodeType) -> str | None:
        hit = self.codes.get(code)
        if hit:
            return hit
        for base, name in self.dirs:
            filename = code.co_filename
            if filename == base or (base.endswith(os.sep) and filename.startswith(base)):
                return name
        return None


class _TorchObserver(TorchFunctionMode):
    def __init__(self, spec: _Spec, seen: list[str]) -> None:
        super().__init__()
        self.spec, self.seen = spec, seen

    def __torch_function__(self, func, types, args=(), kwargs=None):
        hit = self.spec.match_torch(func)
        if hit and hit not in self.seen:
            self.seen.append(hit)
        return func(*args, **(kwargs or {}))


class _AtenObserver(TorchDispatchMode):
    """Sees the dispatcher's operators, whatever called them."""

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        # torch wraps a mode's __torch_dispatch__ to keep torch.compile out of it, and that
        # wrapper imports torch._dynamo (some 900 modules, seconds) on the first operator. The
        # observers never run under torch.compile: no wrapper, no import.
        return False

    def __init__(self, spec: _Spec, seen: list[str]) -> None:
        super().__init__()
        self.spec, self.seen = spec, seen
        self.names: dict[Any, str | None] = {}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        hit = self.names.get(func, _UNSEEN)
        if hit is _UNSEEN:
            hit = self.names[func] = self.spec.match_op(func)
        if hit is None and self.spec.autograd and _current_graph_task_id is not None \
                and _current_graph_task_id() != -1:
            hit = self.spec.autograd
        if hit and hit not in self.seen:
            self.seen.append(hit)
        return func(*args, **(kwargs or {}))


_UNSEEN = object()
#: How hidden calls are named in the message.
HIDDEN_THREAD = "`threading` (code run in another thread is hidden from this check)"
HIDDEN_MODES = "torch's mode-stack switches (they hide calls from this check)"


@contextmanager
def forbidden_calls(*names: str, what: str, why: str = "") -> Iterator[None]:
    """Fail the check if the code run inside the block calls any of ``names``.

    Args:
        names: dotted names of functions, Tensor methods or properties, classes (their methods
            count), whole modules or operators: ``"torch.Tensor.transpose"``,
            ``"torch.nn.functional.unfold"``, ``"torch.Tensor.T"``, ``"torch.func"``,
            ``"sklearn"``, ``"torch.nn.Dropout"``, ``"torch.ops.aten.embedding_dense_backward"``.
            Each also stands for the aten operators only it reaches (:data:`ATEN_FAMILIES`),
            however they are called.
        what: the exercise's function, as the student knows it (``"transpose_view"``).
        why: one sentence on what the exercise wants the student to build instead.

    Code run inside the block that starts a thread, or takes torch's modes off their stacks,
    fails too: the observers could not see what it calls.

    Example:
        >>> with forbidden_calls("torch.Tensor.transpose", what="transpose_view"):
        ...     out = mod.transpose_view(t, 0, 1)
    """
    __tracebackhide__ = True
    spec = _Spec(names)
    seen: list[str] = []

    def note(hit: str | None) -> None:
        if hit and hit not in seen:
            seen.append(hit)

    def profiler(frame, event, arg):
        if event == "call":
            code = frame.f_code
            if code in _OP_CALL_CODES:
                note(spec.match_op(frame.f_locals.get("self")))
                return
            hit = spec.match_code(code)
            if hit is None and code in _MODE_SWITCH_CODES and not _called_by_library(frame):
                hit = HIDDEN_MODES
        elif event == "c_call":
            hit = spec.match_object(arg)
            if hit is None:
                if any(arg is t for t in _THREAD_STARTS):
                    hit = HIDDEN_THREAD
                elif any(arg is m for m in _MODE_SWITCHES) and not _library_frame(frame):
                    hit = HIDDEN_MODES
        else:
            return
        note(hit)

    previous = sys.getprofile()
    observer = _TorchObserver(spec, seen)
    aten = _AtenObserver(spec, seen)
    with observer, aten:
        sys.setprofile(profiler)
        try:
            yield
        finally:
            sys.setprofile(previous)
    if seen:
        from graders.checks.failures import fail

        calls = ", ".join(f"`{s.replace('torch.nn.functional.', 'F.')}`"
                          if s not in (HIDDEN_THREAD, HIDDEN_MODES) else s for s in seen)
        fail(
            f"{what} calls {calls}, which is not allowed in this exercise"
            + (f": {why}" if why else ".")
        )


def _called_by_library(frame: FrameType) -> bool:
    """True when the first caller of ``frame`` outside ``contextlib`` is library code."""
    caller = frame.f_back
    while caller is not None and caller.f_code.co_filename.endswith(os.sep + "contextlib.py"):
        caller = caller.f_back
    return _library_frame(caller)


#: Every way to let autograd compute a gradient: forbidden where the backward pass is the exercise.
AUTOGRAD = (
    "torch.Tensor.backward",
    "torch.autograd.backward",
    "torch.autograd.grad",
    "torch.autograd.functional",
    "torch.func",
    "torch.enable_grad",
)


@contextmanager
def by_hand(what: str, *extra: str, why: str = "") -> Iterator[None]:
    """Run the block with grad mode off and fail if it uses autograd (or any of ``extra``).

    For exercises whose point is a backward pass written by hand (``linear_backward``,
    ``conv2d_backward``, ``rnn_backward`` ...). An operator run by autograd's engine counts as
    autograd, however the backward pass was started.
    """
    __tracebackhide__ = True
    why = why or ("this exercise is the backward pass by hand: derive each gradient with the "
                  "chain rule and compute it with tensor operations.")
    with forbidden_calls(*AUTOGRAD, *extra, what=what, why=why):
        with torch.no_grad():
            yield


class _Counter(TorchFunctionMode):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.count += 1
        return func(*args, **(kwargs or {}))


class _OpCounter(TorchDispatchMode):
    _should_skip_dynamo = _AtenObserver._should_skip_dynamo

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.count += 1
        return func(*args, **(kwargs or {}))


def count_torch_calls(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, int]:
    """Call ``fn`` and count the torch functions and Tensor methods it calls directly, plus
    the dispatcher operators they run (so calls made with torch-function handling off count
    too). Compare counts of one function at two sizes, never with another function's."""
    counter, ops = _Counter(), _OpCounter()
    with counter, ops:
        result = fn(*args, **kwargs)
    return result, counter.count + ops.count


def source_uses(fn: Any, names: tuple[str, ...]) -> list[str]:
    """The ``names`` (Python syntax such as ``for``/``while`` loops) used in ``fn``'s source.

    Only code is inspected, never comments or docstrings. Supported names: ``"for"``,
    ``"while"``, ``"comprehension"``. Returns the names found ([] when the source is unknown).
    """
    import ast
    import textwrap

    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError):
        return []
    kinds = {
        "for": (ast.For, ast.AsyncFor),
        "while": (ast.While,),
        "comprehension": (ast.comprehension,),
    }
    found = []
    for name in names:
        if any(isinstance(node, kinds[name]) for node in ast.walk(tree)):
            found.append(name)
    return found
