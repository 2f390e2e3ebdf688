"""``sys.modules`` before a check, and after it: a module of the kit or of the libraries the
graders rely on stays the module that was imported, and no module is planted under the kit's
or a library's name (:class:`Modules`, run by the sandbox around each check with
:class:`graders.grading.tamper.Snapshot`)."""

from __future__ import annotations

import os
import sys
from itertools import repeat
from operator import is_
from types import FunctionType, ModuleType

from graders.grading.tamper import _MISSING, DEEP, SHALLOW, _dict_get

#: Names of modules whose entry in ``sys.modules`` must stay the module that was imported.
_KIT_MODULES = ("graders", "_drills_reference", "reference", "drills_data")


class Modules:
    """``sys.modules`` as it was before a check.

    :meth:`restore` puts back a module of the kit, torch, numpy, hypothesis or pytest that was
    replaced or removed, removes a new module of the kit that is not made of the kit's own files
    (:func:`genuine`: planted there, or loaded from elsewhere), and removes a module loaded
    from the submission's own folders under the name of a package that is not its own (a
    ``torch`` submodule written by the submission); each is named.
    """

    def __init__(self) -> None:
        self.saved = dict(sys.modules)

    def restore(self, kit: tuple[str, ...], own: tuple[str, ...]) -> list[str]:
        changed: list[str] = []
        modules, saved = sys.modules, self.saved
        if len(modules) == len(saved) and all(map(is_, map(_dict_get, repeat(modules), saved.keys(),
                                                              repeat(_MISSING)), saved.values())):
            return changed  # the very same entries (so no new one): compared at C speed
        for name, module in self.saved.items():
            now = _dict_get(modules, name, _MISSING)
            if now is module:
                continue
            top = name.split(".")[0]
            if top == "_drills_student":
                continue  # the grader forgets the submission's modules when an import fails
            if top in _KIT_MODULES or top in DEEP or name in SHALLOW or top in ("torch", "numpy"):
                changed.append(f"sys.modules[{name!r}]")
                modules[name] = module
        for name in [n for n in modules if n not in self.saved]:
            module = modules[name]
            top = name.split(".")[0]
            where = getattr(module, "__file__", None)
            where = os.path.realpath(where) if type(where) is str else None
            planted = False
            if top in _KIT_MODULES:
                planted = not genuine(module, kit)
            elif top != "_drills_student" and where is not None and where.startswith(own):
                base = self.saved.get(top) or modules.get(top)
                base_file = getattr(base, "__file__", None)
                planted = "." in name or (type(base_file) is str and not os.path.realpath(base_file).startswith(own))
            if planted:
                changed.append(f"sys.modules[{name!r}]")
                del modules[name]
        return changed


def genuine(module: object, folders: tuple[str, ...]) -> bool:
    """True when ``module`` is made of files in ``folders`` (each ending with a separator): its
    file (or, for a package without one, every folder of its ``__path__``) lies there, and so
    does the code of every function defined in it."""
    if not isinstance(module, ModuleType):
        return False
    namespace = vars(module)
    where = namespace.get("__file__")
    if where is None:
        path = namespace.get("__path__")
        return type(path) is list and bool(path) and all(
            type(p) is str and (os.path.realpath(p) + os.sep).startswith(folders) for p in path)
    if type(where) is not str or not os.path.realpath(where).startswith(folders):
        return False
    name = namespace.get("__name__")
    for value in list(namespace.values()):
        if type(value) is FunctionType and value.__module__ == name:
            filename = value.__code__.co_filename
            if type(filename) is not str or not os.path.realpath(filename).startswith(folders):
                return False
    return True
