"""Results on the wire between the runner and its worker (:mod:`._isolate`,
:mod:`._worker`): NumPy, with the structure kept; a result the runner may pass back to
the port goes by reference (:class:`_Ref`); what cannot come back as NumPy comes as a
stand-in (:func:`_stand_in`), a port's namedtuple as one of the same name and fields
(:func:`_namedtuple`).  The worker encodes, the runner decodes, both with these."""

from __future__ import annotations

import collections
import sys
from typing import Any, NamedTuple

from mnistref.conformance._process import _error_class

_KEEP = 16
"""Results the worker keeps for the runner to pass back by reference: the chained
steps pass back the outputs of the last three calls at most."""


class _Ref(NamedTuple):
    """A result of an earlier call, by reference: element *key* of result *handle*."""

    handle: int
    key: Any = None
    whole: bool = True


_STAND_INS: dict[tuple[str, tuple[str, str] | None, bool], type] = {}
_TUPLES: dict[tuple[str, str, tuple[str, ...]], type] = {}


def _stand_in(type_name: str, error: tuple[str, str] | None, arrayish: bool) -> Any:
    """A stand-in for a result of type *type_name* that could not come back as NumPy.

    Converting it with ``np.asarray`` raises *error* (type name, message), the error
    the conversion raised in the worker; without one, it converts to an object array,
    as the original would have.
    """
    key = (type_name, error, arrayish)
    if key not in _STAND_INS:
        ns: dict[str, Any] = {
            "__module__": __name__,
            "__repr__": lambda self: f"<{type_name} of the port>",
        }
        if arrayish:  # a tensor: the runner's "returned one array" applies
            ns["detach"] = lambda self: self
        if error is not None:
            err_type, message = error

            def __array__(self: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N807
                raise _error_class(err_type)(message)

            ns["__array__"] = __array__
        _STAND_INS[key] = type(type_name, (), ns)
    return _STAND_INS[key]()


def _namedtuple(
    module: str,
    qualname: str,
    fields: tuple[str, ...],
    items: tuple[Any, ...],
) -> Any:
    """The namedtuple *module.qualname* with *items*: the class itself where the runner
    has it (``mnistref.network.Params``), else a namedtuple of the same name and fields."""
    owner: Any = sys.modules.get(module)
    for part in qualname.split("."):
        owner = getattr(owner, part, None)
    if (
        isinstance(owner, type)
        and issubclass(owner, tuple)
        and getattr(owner, "_fields", None) == fields
    ):
        return owner(*items)
    key = (module, qualname, fields)
    if key not in _TUPLES:
        name = qualname.rsplit(".", 1)[-1]
        _TUPLES[key] = collections.namedtuple(name if name.isidentifier() else "PortTuple", fields)
    return _TUPLES[key](*items)
