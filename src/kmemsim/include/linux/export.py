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

# Attribute a marked function carries: the kernel names it is exported under.
_EXPORT_ATTR = "__kernel_exports__"

_DUNDER_NAMES: set[str] = set()


@overload
def EXPORT_SYMBOL(fn: F, /) -> F: ...
@overload
def EXPORT_SYMBOL(*names: str) -> Callable[[F], F]: ...
def EXPORT_SYMBOL(*names: Any) -> Any:
    """Mark a kernel function for binding onto the Kernel: `@EXPORT_SYMBOL` or
    `@EXPORT_SYMBOL("kernel_name", "other_spelling")` (default: the function's name)."""
    if len(names) == 1 and callable(names[0]):
        fn = names[0]
        setattr(fn, _EXPORT_ATTR, (fn.__name__,))
        return fn

    def mark(fn: F) -> F:
        setattr(fn, _EXPORT_ATTR, tuple(names) or (fn.__name__,))
        return fn

    return mark


def _exports_of(value: Any) -> tuple[str, ...]:
    fn = value.__func__ if isinstance(value, staticmethod | classmethod) else value
    names: tuple[str, ...] = getattr(fn, _EXPORT_ATTR, ())
    return names


def export_symbols(k: Any, provider: Any) -> list[str]:
    """Bind every function `provider` exports onto kernel `k`; the names bound.

    `provider` is a subsystem object (its marked methods are bound as they
    are: `k.kmalloc is slab.kmalloc`) or a module (its marked functions take
    the kernel as first argument and are bound to `k` as methods).
    """
    bound: list[str] = []
    if isinstance(provider, types.ModuleType):
        for value in list(vars(provider).values()):
            names = _exports_of(value)
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
            names = _exports_of(value)
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
