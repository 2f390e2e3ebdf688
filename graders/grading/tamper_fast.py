"""The graders' data compared at C speed (:class:`_Fast`): the common case of
:class:`graders.grading.tamper_data.Data`, where nothing changed during a check."""

from __future__ import annotations

from gc import get_referents
from itertools import repeat
from operator import call, is_, itemgetter
from types import MappingProxyType
from typing import Any

from graders.grading.tamper import _MISSING

#: The kinds of record that are a namespace (compared entry by entry).
_NAMESPACES = frozenset({"module", "dict", "class", "attributes"})


def _itself(x: object) -> object:
    return x


class _Fast:
    """Every namespace record's entries (and its size), and what every function refers to (its
    code, defaults, closure cells' contents...), each held as it was, and compared with the live
    ones in a few passes at C speed (but for the entries in ``skip``, the graders' bookkeeping).
    :meth:`same` tells whether all are the very same objects (new keys allowed, as in the
    record-by-record comparison), and whether every namespace kept its size; anything else (a
    change, a namespace no longer a plain one) leaves the record-by-record comparison to tell
    what changed. Reading a function's references through the garbage collector raises one audit
    event for all of them, not one per function and attribute."""

    def __init__(self, records: list[tuple[tuple, str, object, object]], skip: frozenset[str]) -> None:
        rows: dict[type, tuple[list, list, list, list, list]] = {
            dict: ([], [], [], [], []), MappingProxyType: ([], [], [], [], [])}
        funcs: list[Any] = []
        for path, kind, obj, saved in records:
            if kind == "function":
                funcs.append(obj)
            elif kind in _NAMESPACES:
                if kind == "dict" and skip:  # what the graders set during a check, by design
                    label = "".join(path)
                    saved = {k: v for k, v in saved.items() if f"{label}[{k!r}]" not in skip}  # type: ignore[attr-defined]
                readers, owners, idx, names, values = rows[MappingProxyType if kind == "class" else dict]
                idx.extend(repeat(len(owners), len(saved)))  # type: ignore[arg-type]
                readers.append(_itself if kind == "dict" else vars)
                owners.append(obj)
                names.extend(saved)  # type: ignore[arg-type]
                values.extend(saved.values())  # type: ignore[attr-defined]
        self._rows = [(kind, tuple(readers), tuple(owners), list(map(len, map(call, readers, owners))),
                       _picker(idx), tuple(names), tuple(values))
                      for kind, (readers, owners, idx, names, values) in rows.items()]
        self._funcs = tuple(funcs)
        self._cells = tuple(c for f in funcs for c in (f.__closure__ or ()))
        self._refs = (get_referents(*self._funcs), get_referents(*self._cells))

    def same(self) -> tuple[bool, bool]:
        """(every entry and function as taken, every namespace of the size it was taken at)."""
        sized = True
        try:
            for kind, readers, owners, lengths, pick, names, values in self._rows:
                spaces = list(map(call, readers, owners))
                if not set(map(type, spaces)) <= {kind}:
                    return False, False  # a namespace no longer a plain one
                sized = sized and list(map(len, spaces)) == lengths
                get = dict.get if kind is dict else MappingProxyType.get
                if not all(map(is_, map(get, pick(spaces), names, repeat(_MISSING)), values)):
                    return False, sized
            return all(len(now) == len(then) and all(map(is_, now, then)) for now, then in
                       zip((get_referents(*self._funcs), get_referents(*self._cells)), self._refs)), sized
        except Exception:  # noqa: BLE001 - a namespace that cannot be read: look at each record
            return False, False


def _picker(idx: list[int]) -> Any:
    """A callable taking the list of namespaces to one namespace per entry (``idx``)."""
    if len(idx) >= 2:
        return itemgetter(*idx)
    return lambda spaces: [spaces[i] for i in idx]
