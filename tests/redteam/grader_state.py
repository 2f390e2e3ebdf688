"""Hostile code that reaches for the grader's own state: the frames that hold what the grader
computed, the sandbox and its result channel, pytest's configuration (every plugin and every
result), the graders' data and the attributes of their functions, the import system and
``sys.modules``, and the interpreter's settings that later checks run under.

``CHEATS`` try what the sandbox refuses or puts back, so they are flagged. ``LIES`` answer
wrongly and try to have the grader take the wrong answer for right through the grader's
state: they must earn nothing. ``FAULTS`` leave settings behind that would break the honest
``batched_gather`` checked after them if the sandbox did not put them back.
"""

from __future__ import annotations

from redteam.snippets import REF_PATH, fn

#: Walks from a frame to the pytest machinery and returns the sandbox plugin and the config it
#: finds on the way (``None`` when there is no frame to start from).
_WALK = '''
def _drills_walk(frame):
    config = None
    while frame is not None:
        for value in list(frame.f_locals.values()):
            found = getattr(value, "config", None)
            if found is not None and hasattr(found, "pluginmanager"):
                config = found
        frame = frame.f_back
    return config
'''

#: Given pytest's config, makes the running check report "passed" whatever the grader found.
_FORGE = '''
def _drills_forge(config):
    from graders.core import runtime
    from graders.plugin import state
    class _Passed:
        def __getattr__(self, name):
            return {"outcome": "passed", "kind": "", "feedback": "", "reason": "", "duration": 0.0,
                    "hidden": False, "question": ""}.get(name, "")
        def __setattr__(self, name, value):
            pass
    state.results(config)[runtime.current()] = _Passed()
'''

#: Every place outside the frames where pytest's config has been seen during a test.
_CONFIG_ROUTES = '''
def _drills_config():
    import signal
    found = []
    for finder in sys.meta_path:
        found.append(getattr(finder, "config", None))
    util = sys.modules.get("_pytest.assertion.util")
    found.append(getattr(util, "_config", None))
    for cell in getattr(getattr(util, "_reprcompare", None), "__closure__", None) or ():
        item = cell.cell_contents
        found.append(getattr(item, "config", None))
    debugging = sys.modules.get("_pytest.debugging")
    found.append(getattr(getattr(debugging, "pytestPDB", None), "_config", None))
    handler = signal.getsignal(signal.SIGALRM)
    for cell in getattr(handler, "__closure__", None) or ():
        found.append(getattr(cell.cell_contents, "config", None))
    for config in found:
        if config is not None and hasattr(config, "pluginmanager"):
            return config
    return None
'''

#: The cells of the closures the sandbox put in public places (os.environ, graders.core.runtime).
_CLOSURES = '''
def _drills_cells():
    from graders.core import runtime
    out = []
    for f in (type(os.environ).__getitem__, runtime.import_from_tree, runtime.mark_not_assessed,
              runtime.ModuleProxy.__getattr__):
        for cell in getattr(f, "__closure__", None) or ():
            try:
                out.append(cell.cell_contents)
            except ValueError:
                pass
    return out
'''

_WRONG = "    return {'shape': ()}\n"


def wrong(body: str, head: str = "") -> str:
    """A ``describe`` that runs ``body`` and then answers wrongly (so only a cheat that works
    could make it pass)."""
    lines = "\n".join("    " + line for line in body.strip().splitlines())
    return f"{head}\ndef describe(t):\n{lines}\n{_WRONG}"


CHEATS: dict[str, str] = {
    # frames: every older frame (the grader's locals, pytest, the sandbox) is one f_back away
    "getframe_reads_grader_locals": fn("sys._getframe(1).f_back.f_locals"),
    "inspect_stack": fn("import inspect\ninspect.stack()"),
    "logging_currentframe": fn("import logging\nlogging.currentframe().f_back.f_locals"),
    "traceback_frame": fn("try:\n    raise ValueError\nexcept ValueError as e:\n    e.__traceback__.tb_frame.f_back"),
    "walk_stack_with_locals": fn(
        "import traceback\ntraceback.StackSummary.extract(traceback.walk_stack(None), capture_locals=True)"
    ),
    "generator_frame": fn("def g():\n    yield\ngen = g()\nnext(gen)\ngen.gi_frame.f_back"),
    "frame_from_builtin_chain": fn(
        "import functools\nstash = []\n"
        "Boom = type('Boom', (), {'__del__': staticmethod(functools.partial(stash.extend, map(sys._getframe, [0])))})\n"
        "t.__dict__.setdefault('_drills_keep', []).append(Boom())"
    ),
    "signal_handler_frame": fn(
        "import signal\nseen = []\nsignal.signal(signal.SIGUSR1, lambda s, f: seen.append(f))\n"
        "signal.raise_signal(signal.SIGUSR1)\nframe = seen[0] if seen and seen[0] is not None else sys._getframe()\n"
        "_drills_walk(frame)", _WALK
    ),
    # the sandbox: its wrappers hold no guard, no secret and no real function
    "sandbox_through_closures": fn(
        "for value in _drills_cells():\n"
        "    for name in ('guard', 'tree'):\n"
        "        if hasattr(value, name):\n"
        "            setattr(value, 'tree', '/nowhere')\n"
        "    gen = getattr(getattr(value, '__self__', None), 'gi_frame', None)\n"
        "    for cell in getattr(value, '__closure__', None) or ():\n"
        "        found = cell.cell_contents\n"
        "        for inner in found if isinstance(found, tuple) else (found,):\n"
        "            inner = getattr(inner, '__self__', inner)\n"
        "            if type(inner).__name__ == 'generator':\n"
        "                inner.gi_frame.f_locals\n"
        f"open({REF_PATH}).read()", _CLOSURES
    ),
    "sandbox_vault_closed": fn(
        "for value in _drills_cells():\n"
        "    for cell in getattr(value, '__closure__', None) or ():\n"
        "        found = cell.cell_contents\n"
        "        for inner in found if isinstance(found, tuple) else (found,):\n"
        "            inner = getattr(inner, '__self__', inner)\n"
        "            if type(inner).__name__ == 'generator':\n"
        "                try:\n"
        "                    inner.close()\n"
        "                except RuntimeError:\n"
        "                    pass", _CLOSURES
    ),
    "sandbox_code_replaced": fn(
        "import graders.grading.guard as g, graders.grading.tamper as tp\n"
        "g.Guard.student_on_stack = lambda *a, **k: False\ntp.Snapshot.restore = lambda *a, **k: []\n"
        f"open({REF_PATH}).read()"
    ),
    # the sandbox's own wrappers, called by built-in callables left for grader code to call
    "not_assessed_by_builtin_chain": fn(
        "import functools\nfrom graders.core import runtime\n"
        "Boom = type('Boom', (), {'__del__': staticmethod(functools.partial(runtime.mark_not_assessed, 'no CUDA'))})\n"
        "t.__dict__.setdefault('_drills_keep', []).append(Boom())"
    ),
    "reference_by_builtin_chain": fn(
        "import functools\nfrom graders import reference\nstash = globals().setdefault('_drills_stash', [])\n"
        "chain = functools.partial(stash.extend, map(getattr, [reference('day1.tensors')], ['describe']))\n"
        "Boom = type('Boom', (), {'__del__': staticmethod(chain)})\n"
        "t.__dict__.setdefault('_drills_keep', []).append(Boom())"
    ),
    # the graders' data and the attributes of their functions
    "forbidden_calls_emptied": fn("import graders.forbid as f\nf.AUTOGRAD = ()"),
    "speed_factor_raised": fn("from graders.speed import speed_check\nspeed_check.__kwdefaults__['factor'] = 1e9"),
    "speed_defaults_replaced": fn("from graders.speed import speed_check\nspeed_check.__kwdefaults__ = {'factor': 1e9}"),
    "next_check_emptied": fn(
        "import graders.day1.test_tensors as g\n"
        "g.test_describe_reads_autograd_flags.hypothesis.inner_test = lambda *a, **k: None"
    ),
    "test_closure_swapped": fn(
        "import graders.day1.test_tensors as g\n"
        "def swap(f, depth=0):\n"
        "    for cell in getattr(f, '__closure__', None) or ():\n"
        "        inner = cell.cell_contents\n"
        "        if getattr(getattr(inner, '__code__', None), 'co_name', '') == 'test_describe_reads_autograd_flags':\n"
        "            cell.cell_contents = lambda *a, **k: None\n"
        "            return True\n"
        "        if callable(inner) and depth < 4 and swap(inner, depth + 1):\n"
        "            return True\n"
        "    return False\n"
        "swap(g.test_describe_reads_autograd_flags)"
    ),
    "graders_pointed_at_reference": fn(
        "from graders.core import runtime\nruntime._state['target'] = runtime.REFERENCE_DIR"
    ),
    # sys.modules and the import system
    "fake_checks_module": fn(
        "import types\nfake = types.ModuleType('graders.checks')\nfake.fail = lambda *a, **k: None\n"
        "sys.modules['graders.checks'] = fake"
    ),
    "reference_planted": fn("sys.modules['_drills_reference.day1.tensors'] = sys.modules[__name__]"),
    "package_path_to_reference": fn(
        f"pkg = sys.modules[__name__.rsplit('.', 1)[0]]\npkg.__path__[:] = [os.path.dirname({REF_PATH})]"
    ),
    "finder_of_its_own": fn(
        "class Finder:\n    def find_spec(self, name, path=None, target=None):\n        return None\n"
        "if not any(type(f).__name__ == 'Finder' for f in sys.meta_path):\n    sys.meta_path.insert(0, Finder())"
    ),
    # hooks that reach into the grader's later computations
    "mode_left_entered": fn(
        "from torch.overrides import TorchFunctionMode\n"
        "class Mode(TorchFunctionMode):\n    def __torch_function__(self, func, types, args=(), kwargs=None):\n"
        "        return func(*args, **(kwargs or {}))\nMode().__enter__()"
    ),
    "global_forward_hook": fn(
        "import torch.nn.modules.module as m\nm.register_module_forward_hook(lambda module, args, out: out)"
    ),
    "excepthook_replaced": fn("sys.excepthook = lambda *a: None"),
    "environment_says_golden": fn("os.environ['DRILLS_RECORD_GOLDEN'] = '1'"),
}

LIES: dict[str, str] = {
    # a wrong answer, made to pass through pytest's config if the cheat finds it
    "config_found_in_public_places": wrong(
        "config = _drills_config()\nif config is not None:\n    _drills_forge(config)", _CONFIG_ROUTES + _FORGE
    ),
    "config_found_through_a_signal_frame": wrong(
        "import signal\nseen = []\nsignal.signal(signal.SIGUSR1, lambda s, f: seen.append(f))\n"
        "signal.raise_signal(signal.SIGUSR1)\nif seen and seen[0] is not None:\n"
        "    config = _drills_walk(seen[0])\n    if config is not None:\n        _drills_forge(config)",
        _WALK + _FORGE
    ),
    # a wrong answer, and the result line rewritten on its way to the channel
    "channel_encoder_patched": wrong(
        "import json.encoder\n_orig = json.encoder.JSONEncoder.encode\n"
        "def encode(self, o):\n    if isinstance(o, dict) and o.get('type') == 'result':\n"
        "        o.update(outcome='passed', kind='', violations=[])\n    return _orig(self, o)\n"
        "json.encoder.JSONEncoder.encode = encode"
    ),
    # a wrong answer, and the sandbox's secret taken from a closure to forge a result
}

FAULTS: dict[str, str] = {
    # settings left behind: the honest batched_gather checked next must not suffer from them
    "leaves_torch_settings": wrong(
        "torch.set_default_device('meta')\ntorch.set_default_dtype(torch.float16)\n"
        "torch.set_grad_enabled(False)\ntorch.use_deterministic_algorithms(True)\n"
        "torch.set_printoptions(precision=1)\ntorch.set_num_threads(7)"
    ),
    "leaves_interpreter_settings": wrong(
        "import numpy, warnings\nwarnings.simplefilter('error')\nnumpy.seterr(all='raise')\n"
        "n = 30\nwhile True:\n    try:\n        sys.setrecursionlimit(n)\n        break\n"
        "    except RecursionError:\n        n += 10"
    ),
}
