"""Model of lib/stackdepot.c: call stacks saved once, named by a 32-bit handle.

KASAN, KFENCE and kmemleak record who allocated and who freed an object as
a stack depot handle (depot_stack_handle_t, a u32) kept in the object's
metadata; reports print the stack behind it. In kmemsim the "call stack" of
a kernel function is the Python stack of the scenario that called into the
model: each scenario function is one frame, printed as the kernel prints a
C function with %pS ("name+0xoff/0xsize": the bytecode offset and length of
the function), and each run of model frames between scenario frames is one
frame named after the kernel function the scenario called there (its
EXPORT_SYMBOL name: `k.kfree` is "kfree", `k.__free_pages` "__free_pages"),
so the model's own helpers never show. Identical stacks share a handle, as
in the depot; handle 0 means "no stack".
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable
from pathlib import Path
from types import BuiltinFunctionType, CodeType, FrameType, FunctionType, MethodType, ModuleType
from typing import Any

from kmemsim.include.linux.export import exports_of

_PKG_DIR = str(Path(__file__).resolve().parent.parent)

# Code object of an exported kernel function -> its kernel name.
_KERNEL_NAMES: dict[CodeType, str] = {}


def register_kernel_names(k: Any) -> None:
    """Learn the kernel name of every function bound onto `k` by EXPORT_SYMBOL.

    A function of a module compiled with mypyc (setup.py) runs without a
    Python frame, so a stack taken inside it would not show the kernel function
    the scenario called. When a tool that records stacks is on (KASAN, KFENCE,
    kmemleak), each compiled function bound onto `k` is bound through a small
    Python entry named after it instead: its frame stands for the kernel entry
    (always for the names in ENTERED_WITH_FRAME).
    """
    entries = k.kasan is not None or k.kfence is not None or k.kmemleak is not None
    for name, value in list(vars(k).items()):
        fn = value.__func__ if isinstance(value, MethodType) else value
        if isinstance(fn, FunctionType):
            _KERNEL_NAMES.setdefault(fn.__code__, (exports_of(fn) or (name,))[0])
        elif (entries or name in ENTERED_WITH_FRAME) and isinstance(fn, BuiltinFunctionType):
            entry = _kernel_entry((_compiled_exports(value) or (name,))[0], value)
            _KERNEL_NAMES.setdefault(entry.__code__, entry.__code__.co_name)
            setattr(k, name, entry)


# Kernel functions that get an entry frame even with no stack-recording tool on:
# the lib/string.c functions, which an Oops names as the faulting function.
ENTERED_WITH_FRAME: set[str] = set()

# The file of the entry frames (_kernel_entry()).
ENTRY_FILE = __file__


def _compiled_exports(value: Any) -> tuple[str, ...]:
    """The kernel names of a compiled exported function as bound onto the kernel."""
    if isinstance(value, MethodType):  # a module's function, bound to the kernel
        return exports_of(value.__func__)
    owner = value.__self__
    if owner is None or isinstance(owner, ModuleType):
        return exports_of(value)
    try:
        return exports_of(inspect.getattr_static(type(owner), value.__name__))
    except AttributeError:
        return ()


def _kernel_entry(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """A Python function named `name` (a frame in this package) that calls `fn`."""

    def entry(*args: Any, **kwargs: Any) -> Any:
        return fn(*args, **kwargs)

    entry.__code__ = entry.__code__.replace(co_name=name, co_qualname=name)
    entry.__name__ = entry.__qualname__ = name
    return entry


def kernel_name(code: CodeType) -> str:
    """The kernel name of a model function (its exported name, else its Python name)."""
    return _KERNEL_NAMES.get(code) or code.co_name


def is_model_frame(frame: FrameType) -> bool:
    """A frame of kmemsim itself (not of the scenario)."""
    return frame.f_code.co_filename.startswith(_PKG_DIR)


def format_frame(name: str, frame: FrameType) -> str:
    """%pS of a frame: "name+0xoff/0xsize"."""
    code = frame.f_code
    return f"{name}+{max(frame.f_lasti, 0):#x}/{len(code.co_code):#x}"


def _frame_name(frame: FrameType) -> str:
    name = frame.f_code.co_name
    return "kmemsim_scenario" if name == "<module>" else name


# Code object -> is it kmemsim's own (a model frame)? _OUTSIDE: below the scenario.
_IS_MODEL: dict[CodeType, bool | None] = {}
_OUTSIDE = None
_TOOL_DIRS = ("/kmemsim/cli/", "/kmemsim/trace/", "/kmemsim/web/")


def _classify(code: CodeType) -> bool | None:
    """True for a model frame, False for the scenario's, _OUTSIDE for what runs it."""
    path = code.co_filename.replace("\\", "/")
    if path.startswith(_PKG_DIR):
        return _OUTSIDE if any(d in path for d in _TOOL_DIRS) else True
    if "/lib/python3" in path or path.startswith("<frozen"):
        return _OUTSIDE  # the standard library, site-packages (pytest, click, runpy)
    return False


# A frame as saved: (code, bytecode offset, is a model frame standing for a kernel entry).
RawFrame = tuple[CodeType, int, bool]


def _skip_model_frames(frame: FrameType, skip: int) -> FrameType:
    """`skip` frames out from `frame`, but never past the outermost frame of the run of
    model frames it is in (the kernel entry): functions of compiled modules have no
    frames, so the same call may have fewer frames to skip."""
    while skip > 0:
        outer = frame.f_back
        if outer is None:
            break
        code = outer.f_code
        if code not in _IS_MODEL:
            _IS_MODEL[code] = _classify(code)
        if not _IS_MODEL[code]:
            break
        frame = outer
        skip -= 1
    return frame


def capture_raw(skip: int = 1, depth: int = 16) -> tuple[RawFrame, ...]:
    """stack_trace_save() without formatting: what capture() prints, as raw frames."""
    frame: FrameType | None = _skip_model_frames(sys._getframe(1), skip - 1)
    out: list[RawFrame] = []
    outer_model: FrameType | None = None
    is_model = _IS_MODEL
    while frame is not None and len(out) < depth:
        code = frame.f_code
        model = is_model.get(code, 0)
        if model == 0 and code not in is_model:
            model = is_model[code] = _classify(code)
        if model is _OUTSIDE:
            break  # the interpreter, a test runner, kmemsim's CLI: the task's entry
        if model:
            outer_model = frame
        else:
            if outer_model is not None:
                out.append((outer_model.f_code, outer_model.f_lasti, True))
                outer_model = None
            out.append((frame.f_code, frame.f_lasti, False))
        frame = frame.f_back
    if outer_model is not None and len(out) < depth:
        out.append((outer_model.f_code, outer_model.f_lasti, True))
    return tuple(out)


def format_raw(raw: tuple[RawFrame, ...]) -> tuple[str, ...]:
    """The %pS lines of raw frames."""
    out = []
    for code, lasti, model in raw:
        name = kernel_name(code) if model else code.co_name
        if name == "<module>":
            name = "kmemsim_scenario"
        out.append(f"{name}+{max(lasti, 0):#x}/{len(code.co_code):#x}")
    return tuple(out)


def capture(skip: int = 1, depth: int = 16) -> tuple[str, ...]:
    """stack_trace_save(): the current stack, innermost first, as %pS strings."""
    frame: FrameType | None = _skip_model_frames(sys._getframe(1), skip - 1)
    out: list[str] = []
    outer_model: FrameType | None = None
    while frame is not None and len(out) < depth:
        kind = _IS_MODEL.get(frame.f_code)
        if kind is None and frame.f_code not in _IS_MODEL:
            kind = _IS_MODEL[frame.f_code] = _classify(frame.f_code)
        if kind is _OUTSIDE:
            break
        if kind:
            outer_model = frame
        else:
            if outer_model is not None:
                out.append(format_frame(kernel_name(outer_model.f_code), outer_model))
                outer_model = None
            out.append(format_frame(_frame_name(frame), frame))
        frame = frame.f_back
    if outer_model is not None and len(out) < depth:
        out.append(format_frame(kernel_name(outer_model.f_code), outer_model))
    return tuple(out)


def caller_ip(skip: int = 1) -> str:
    """_RET_IP_ as %pS: the innermost scenario frame, or the kernel entry if there is none."""
    frame: FrameType | None = sys._getframe(skip)
    last_model: FrameType | None = None
    while frame is not None:
        if not frame.f_code.co_filename.startswith(_PKG_DIR):
            return format_frame(_frame_name(frame), frame)
        last_model = frame
        frame = frame.f_back
    if last_model is not None:
        return format_frame(kernel_name(last_model.f_code), last_model)
    return "0x0"


def entry_ip(skip: int = 1) -> str:
    """The kernel function the scenario called (the outermost model frame of the innermost run)."""
    frame: FrameType | None = sys._getframe(skip)
    last_model: FrameType | None = None
    while frame is not None:
        if not frame.f_code.co_filename.startswith(_PKG_DIR):
            break
        last_model = frame
        frame = frame.f_back
    if last_model is None:
        return caller_ip(skip + 1)
    return format_frame(kernel_name(last_model.f_code), last_model)


class StackDepot:
    """stack_depot_save() / stack_depot_fetch(): stacks by u32 handle.

    A stack is saved as captured (printed lines, or raw frames from
    capture_raw(), which cost no formatting until a report fetches them).
    """

    def __init__(self) -> None:
        self._handles: dict[tuple[object, ...], int] = {}
        self._stacks: list[tuple[object, ...]] = [()]

    def save(self, stack: tuple[object, ...]) -> int:
        """stack_depot_save(): the handle of `stack` (a new one for a new stack)."""
        handle = self._handles.get(stack)
        if handle is None:
            handle = len(self._stacks)
            self._stacks.append(stack)
            self._handles[stack] = handle
        return handle

    def save_current(self, skip: int = 2) -> int:
        """stack_depot_save(stack_trace_save()): the caller's stack, unformatted."""
        return self.save(capture_raw(skip + 1))

    def fetch(self, handle: int) -> tuple[str, ...]:
        """stack_depot_fetch(): the frames of `handle` (none for 0 or an unknown one)."""
        if not 0 < handle < len(self._stacks):
            return ()
        stack = self._stacks[handle]
        if stack and isinstance(stack[0], tuple):
            return format_raw(stack)  # type: ignore[arg-type]
        return stack  # type: ignore[return-value]
