"""Model of include/linux/export.h: EXPORT_SYMBOL, and how a booted Kernel gets its API.

In Linux a subsystem makes a function callable by drivers with
EXPORT_SYMBOL(name); the module loader resolves the name when a driver is
loaded. kmemsim does the same with Python objects: a subsystem marks the
kernel functions it offers with `@EXPORT_SYMBOL` (a method of its state
object, such as `SlabAllocator.kmalloc`, or a module-level function whose
first argument is the kernel), and when the subsystem comes up at boot,
`export_symbols(k, provider)` binds each marked function onto the Kernel
instance under its kernel name. `k.kmalloc` is then the subsystem's own
bound method: one implementation, no hand-written delegator, no wrapper cost.

Kernel names with two leading underscores (`__get_free_pages`) cannot be
written as method names inside a class body (Python mangles them), so the
method has a plain name and the decorator lists the kernel spellings:

    @EXPORT_SYMBOL("__get_free_pages", "get_free_pages")
    def get_free_pages(self, gfp: int, order: int) -> int: ...

`exported_names()` is every name bound so far, for `Kernel.__getattr__`,
which undoes the mangling of `self.k.__get_free_pages` written inside a
user's class.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any, TypeVar, overload

F = TypeVar("F", bound=Callable[..., Any])

# The kernel names each marked function is exported under, keyed by where the
# function is defined (its module and qualified name): a registry rather than an
# attribute on the function, because a method of a class compiled with mypyc is a
# method_descriptor, which takes no attributes.
_EXPORTS: dict[tuple[str, str], tuple[str, ...]] = {}

_DUNDER_NAMES: set[str] = set()


def _key(fn: Any) -> tuple[str, str] | None:
    """Where `fn` is defined: (module, qualified name), also for a compiled method."""
    while isinstance(fn, staticmethod | classmethod):  # compiled: a staticmethod in one
        fn = fn.__func__
    try:
        if isinstance(fn, types.MethodDescriptorType):  # a method of a compiled class
            return (fn.__objclass__.__module__, fn.__qualname__)
        module, qualname = fn.__module__, fn.__qualname__
    except AttributeError:
        return None
    if not isinstance(qualname, str):
        return None
    # A compiled staticmethod's function knows its qualified name but not its module.
    return (module if isinstance(module, str) else "", qualname)


@overload
def EXPORT_SYMBOL(fn: F, /) -> F: ...
@overload
def EXPORT_SYMBOL(*names: str) -> Callable[[F], F]: ...
def EXPORT_SYMBOL(*names: Any) -> Any:
    """Mark a kernel function for binding onto the Kernel: `@EXPORT_SYMBOL` or
    `@EXPORT_SYMBOL("kernel_name", "other_spelling")` (default: the function's name)."""
    if len(names) == 1 and callable(names[0]):
        fn = names[0]
        _mark(fn, ())
        return fn

    def mark(fn: F) -> F:
        _mark(fn, tuple(names))
        return fn

    return mark


def _mark(fn: Any, names: tuple[str, ...]) -> None:
    """Record `fn`'s kernel names (default: its own name). A compiled class hands its
    decorators the staticmethod itself, whichever way round the decorators are written."""
    key = _key(fn)
    if key is None:
        raise TypeError(f"EXPORT_SYMBOL: {fn!r} is not a function")
    _EXPORTS[key] = names or (key[1].rpartition(".")[2],)


def exports_of(fn: Any) -> tuple[str, ...]:
    """The kernel names `fn` (a function, method or staticmethod) is exported under, or ()."""
    key = _key(fn)
    return _EXPORTS.get(key, ()) if key is not None else ()


def export_symbols(k: Any, provider: Any) -> list[str]:
    """Bind every function `provider` exports onto kernel `k`; the names bound.

    `provider` is a subsystem object (its marked methods are bound as they
    are: `k.kmalloc is slab.kmalloc`) or a module (its marked functions take
    the kernel as first argument and are bound to `k` as methods).
    """
    bound: list[str] = []
    if isinstance(provider, types.ModuleType):
        for value in list(vars(provider).values()):
            names = exports_of(value)
            if names and callable(value):
                method = types.MethodType(value, k)
                for name in names:
                    _bind(k, name, method)
                    bound.append(name)
        return bound
    seen: set[str] = set()
    for cls in type(provider).__mro__:
        for attr, value in vars(cls).items():
            if attr in seen:
                continue
            seen.add(attr)
            names = exports_of(value)
            if names:
                method = getattr(provider, attr)
                for name in names:
                    _bind(k, name, method)
                    bound.append(name)
    return bound


def _bind(k: Any, name: str, fn: Any) -> None:
    setattr(k, name, fn)
    if name.startswith("__"):
        _DUNDER_NAMES.add(name)


def exported_names() -> frozenset[str]:
    """The kernel names with two leading underscores bound so far."""
    return frozenset(_DUNDER_NAMES)
