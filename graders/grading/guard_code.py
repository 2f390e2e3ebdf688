"""Small helpers of the guard that read no mutable state: frames, the bytecode of a call site
(which names the code that raised an event asks for), and the code objects of a module.
"""

from __future__ import annotations

import sys
from types import CodeType

from graders.grading.guard_rules import (
    _HELPER_DIRS,
    _HELPER_FILES,
    _LOGGING_FILE,
)


def _opcodes() -> tuple[int, int, int, int, frozenset[int]]:
    import opcode

    m = opcode.opmap
    loads = frozenset(m[n] for n in ("LOAD_ATTR", "LOAD_METHOD", "LOAD_GLOBAL", "LOAD_NAME", "LOAD_CONST",
                                     "IMPORT_NAME", "IMPORT_FROM") if n in m)
    return m["EXTENDED_ARG"], m["LOAD_GLOBAL"], m["LOAD_CONST"], m["LOAD_DEREF"], loads


_EXTENDED_ARG, _LOAD_GLOBAL, _LOAD_CONST, _LOAD_DEREF, _NAME_OPS = _opcodes()


def _more_opcodes() -> tuple:
    import opcode

    m = opcode.opmap
    jumps = frozenset(opcode.hasjrel) | frozenset(opcode.hasjabs)
    callee = frozenset(m[n] for n in ("LOAD_ATTR", "LOAD_METHOD", "LOAD_GLOBAL", "LOAD_NAME", "LOAD_DEREF",
                                      "LOAD_FAST") if n in m)
    return (m["LOAD_ATTR"], m["LOAD_METHOD"], m["LOAD_FAST"], m["CALL"], m["PRECALL"], m["CACHE"],
            opcode.HAVE_ARGUMENT, jumps, callee, opcode.stack_effect)


(_LOAD_ATTR, _LOAD_METHOD, _LOAD_FAST, _CALL, _PRECALL, _CACHE, _HAVE_ARGUMENT, _JUMPS, _CALLEE_OPS,
 _stack_effect) = _more_opcodes()


def _future_flags() -> int:
    import __future__

    out = 0
    for name in __future__.all_feature_names:
        out |= getattr(__future__, name).compiler_flag
    return out


_FUTURE_FLAGS = _future_flags()



# --- small helpers that read no mutable state -------------------------------------------------

_dict_get = dict.get
_str_startswith = str.startswith
_gc_isenabled, _gc_disable, _gc_enable = __import__("gc").isenabled, __import__("gc").disable, __import__("gc").enable


def _startswith(text: object, prefix: str | tuple[str, ...]) -> bool:
    return type(text) is str and _str_startswith(text, prefix)


def _frame_at(depth: int):
    """The frame ``depth`` levels up from the caller of this function, or None (a thread that
    runs no Python code of its own raises events with no frame of its own)."""
    try:
        return sys._getframe(depth)
    except ValueError:
        return None


def _local_busy(local) -> bool:
    return _dict_get(local.__dict__, "busy", False) is True


def _asks_for(frame, words: tuple[str, ...], window: int = 6) -> bool:
    """True when what ``frame`` is doing names one of ``words``: the function its current call
    calls (``sys._getframe(1)``, ``atexit.register(f)``), the attribute it reads
    (``tb.tb_frame``), or, for ``getattr``, the name it reads. Where the call cannot be read
    from the bytecode (a conditional expression among its arguments), one of the ``window``
    names loaded just before will do."""
    site = _call_site(frame)
    if not words:  # any call will do (not an instruction that calls nothing by name)
        return site is None or site[0] != ""
    if site is not None:
        callee, arguments = site
        if _contains(callee, words):
            return True
        if type(callee) is str and callee.lower() in ("getattr", "attrgetter"):
            return any(_contains(a, words) for a in arguments)
        return False
    offsets, names = _named_loads(frame.f_code)
    at = _bisect_right(offsets, frame.f_lasti)
    return any(_contains(name, words) for name in names[max(0, at - max(window, 16)):at])


def _contains(name: object, words: tuple[str, ...]) -> bool:
    if type(name) is not str:
        return False
    low = name.lower()
    return any(w in low for w in words)


def _call_site(frame) -> tuple[object, list] | None:
    """(callee, argument names) of what ``frame`` is doing, read from its bytecode: the
    function a call calls (the name its callable was loaded by) and the names and constants
    its arguments load; an attribute read (its name, []); anything else ("", []). None when
    the call cannot be read (a jump among its arguments)."""
    instructions = _instructions(frame.f_code)
    at = _bisect_right([i[0] for i in instructions], frame.f_lasti) - 1
    if at < 0:
        return None
    offset, op, arg, name = instructions[at]
    if op in (_LOAD_ATTR, _LOAD_METHOD):
        return name, []
    if op not in (_CALL, _PRECALL):  # a built-in function is called by PRECALL itself
        return "", []
    nargs = arg
    j = at - 1
    if op == _CALL and j >= 0 and instructions[j][1] == _PRECALL:
        j -= 1
    depth = 0
    arguments: list[object] = []
    while j >= 0:
        _, op, arg, name = instructions[j]
        if op in _JUMPS:
            return None
        if depth >= nargs:  # the arguments are done: this loads the callable (or the method)
            if type(name) is str and op in _CALLEE_OPS:
                return name, arguments
            if depth >= nargs + 2:
                return "", arguments
        elif name is not None:
            arguments.append(name)
        try:
            depth += _stack_effect(op, arg) if op >= _HAVE_ARGUMENT else _stack_effect(op)
        except ValueError:
            return None
        j -= 1
    return None


def _instructions(code: CodeType) -> list[tuple[int, int, int, object]]:
    """(offset, opcode, argument, name or constant) of ``code``'s instructions (no caches)."""
    hit = _INSTRUCTIONS.get(id(code))
    if hit is not None:
        return hit
    raw, names, consts = code.co_code, code.co_names, code.co_consts
    out: list[tuple[int, int, int, object]] = []
    extended = 0
    for offset in range(0, len(raw) - 1, 2):
        op, arg = raw[offset], raw[offset + 1] | extended
        extended = (arg << 8) if op == _EXTENDED_ARG else 0
        if op in (_CACHE, _EXTENDED_ARG):
            continue
        name: object = None
        if op in _NAME_OPS:
            index = arg >> 1 if op == _LOAD_GLOBAL else arg
            table = consts if op == _LOAD_CONST else names
            name = table[index] if index < len(table) else None
        elif op in (_LOAD_DEREF, _LOAD_FAST):
            try:
                name = code._varname_from_oparg(arg)  # type: ignore[attr-defined]  # CPython 3.11+
            except (AttributeError, IndexError, ValueError):
                name = None
        out.append((offset, op, arg, name))
    _INSTRUCTIONS[id(code)] = out
    _KEEP.append(code)
    return out


_INSTRUCTIONS: dict[int, list[tuple[int, int, int, object]]] = {}


def _named_loads(code: CodeType) -> tuple[list[int], list[object]]:
    """(offsets, names) of the instructions of ``code`` that load a name, an attribute or a
    constant, read from its bytecode (no library code involved)."""
    hit = _NAMED_LOADS.get(id(code))
    if hit is not None:
        return hit
    raw, names, consts = code.co_code, code.co_names, code.co_consts
    offsets: list[int] = []
    loaded: list[object] = []
    extended = 0
    for offset in range(0, len(raw) - 1, 2):
        op, arg = raw[offset], raw[offset + 1] | extended
        extended = (arg << 8) if op == _EXTENDED_ARG else 0
        if op in _NAME_OPS:
            index = arg >> 1 if op == _LOAD_GLOBAL else arg
            table = consts if op == _LOAD_CONST else names
            if index < len(table):
                offsets.append(offset)
                loaded.append(table[index])
        elif op == _LOAD_DEREF:  # a closure's variable (the sandbox's own hooks use them)
            try:
                name = code._varname_from_oparg(arg)  # type: ignore[attr-defined]  # CPython 3.11+
            except (AttributeError, IndexError, ValueError):
                continue
            offsets.append(offset)
            loaded.append(name)
    hit = _NAMED_LOADS[id(code)] = (offsets, loaded)
    _KEEP.append(code)
    return hit


def _bisect_right(values: list[int], x: int) -> int:
    lo, hi = 0, len(values)
    while lo < hi:
        mid = (lo + hi) // 2
        if x < values[mid]:
            hi = mid
        else:
            lo = mid + 1
    return lo


_NAMED_LOADS: dict[int, tuple[list[int], list[object]]] = {}


def _codes_of_module(namespace: dict) -> dict[int, CodeType]:
    """Every code object of the functions (and methods) defined in a module's namespace (its
    ``__file__``'s code, not what it imported)."""
    out: dict[int, CodeType] = {}
    filename = namespace.get("__file__")
    todo = [v for v in namespace.values()]
    for value in list(todo):
        if isinstance(value, type) and value.__module__ == namespace.get("__name__"):
            todo.extend(vars(value).values())
    codes = [getattr(v, "__code__", None) for v in todo]
    codes += [getattr(getattr(v, "fget", None), "__code__", None) for v in todo]
    while codes:
        code = codes.pop()
        if type(code) is CodeType and id(code) not in out and code.co_filename == filename:
            out[id(code)] = code
            codes.extend(c for c in code.co_consts if type(c) is CodeType)
    return out


def _names_exec(code: CodeType) -> bool:
    """True when ``code`` calls ``exec``, ``eval`` or ``compile`` by name (or is importlib's
    trampoline that runs them)."""
    hit = _NAMES_EXEC.get(id(code))
    if hit is None:
        hit = code.co_name == "_call_with_frames_removed" or any(
            n in ("exec", "eval", "compile", "exec_", "_exec", "_eval", "_compile", "FunctionType")
            for n in code.co_names
        )
        _NAMES_EXEC[id(code)] = hit
        _KEEP.append(code)
    return hit


def _frame_helper(code: CodeType) -> bool:
    """True for the standard library's helpers that hand frames to their caller."""
    filename = code.co_filename
    if filename in _HELPER_FILES or _startswith(filename, _HELPER_DIRS):
        return True
    return filename == _LOGGING_FILE and code.co_name == "<lambda>"  # logging.currentframe



_NAMES_EXEC: dict[int, bool] = {}
_KEEP: list = []  # the code objects whose ids are cached above
