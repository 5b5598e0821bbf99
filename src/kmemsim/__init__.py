"""kmemsim: the Linux kernel's memory management and I/O memory as an executable model.

    >>> import kmemsim
    >>> k = kmemsim.boot("x86_64", mem="1G")
    >>> addr = k.kmalloc(100, kmemsim.GFP_KERNEL)
    >>> k.ksize(addr)
    128

Every GFP flag (GFP_KERNEL, __GFP_ZERO, ...), SLAB flag (SLAB_HWCACHE_ALIGN,
...) and error number (EBUSY, ENOMEM, EPROBE_DEFER, ...) is an attribute of
this module under its kernel name, as are the helpers of include/linux/err.h
(ERR_PTR, IS_ERR, PTR_ERR, IS_ERR_OR_NULL, PTR_ERR_OR_ZERO, MAX_ERRNO), and
include/linux/ioport.h's IORESOURCE_* flags, DEFINE_RES_MEM / DEFINE_RES_IRQ / ...
initialisers and struct resource (Resource).

The model's hot modules may run compiled with mypyc (an install on a machine
with a C compiler): `kmemsim.compiled_modules()` names them, and
KMEMSIM_PURE_PYTHON=1 in the environment runs the pure-Python sources instead
(kmemsim/_compiled.py).
"""

from __future__ import annotations

# First: chooses between the compiled (mypyc) and the pure-Python model modules.
from kmemsim._compiled import compiled_modules
from kmemsim.errors import KmemsimError, Oops
from kmemsim.include.linux import err as _err
from kmemsim.include.linux import errno as _errno
from kmemsim.include.linux import gfp_types as _gfp_types
from kmemsim.include.linux import ioport as _ioport
from kmemsim.include.linux import slab as _slab
from kmemsim.include.linux.gfp_types import GFP
from kmemsim.init.main import Kernel, boot

__version__ = "0.1.0"

__all__ = ["GFP", "Kernel", "KmemsimError", "Oops", "__version__", "boot", "compiled_modules"]


def _export(names: dict[str, object]) -> None:
    globals().update(names)
    __all__.extend(n for n in names if n not in __all__)


_export(dict(_gfp_types.GFP_NAMES))
_export({n: getattr(_slab, n) for n in dir(_slab) if n.startswith("SLAB_")})
_export(dict(_errno.ERRNO))
_export(
    {
        n: getattr(_err, n)
        for n in ("ERR_PTR", "IS_ERR", "PTR_ERR", "IS_ERR_OR_NULL", "PTR_ERR_OR_ZERO", "ERR_CAST")
    }
    | {"IS_ERR_VALUE": _err.IS_ERR_VALUE, "MAX_ERRNO": _err.MAX_ERRNO}
)
_export(
    {n: getattr(_ioport, n) for n in dir(_ioport) if n.startswith(("IORESOURCE_", "DEFINE_RES"))}
    | {n: getattr(_ioport, n) for n in dir(_ioport) if n.startswith("REGION_")}
    | {"IORES_DESC_NONE": _ioport.IORES_DESC_NONE, "IORES_DESC": _ioport.IORES_DESC}
    | {"Resource": _ioport.Resource, "resource_size": _ioport.resource_size}
)


def _export_driver_model() -> None:
    from kmemsim.drivers.base import platform as _platform

    _export(
        {
            "platform_driver": _platform.PlatformDriver,
            "of_device_id": _platform.OfDeviceId,
            "platform_device_id": _platform.PlatformDeviceId,
            "PLATFORM_DEVID_NONE": _platform.PLATFORM_DEVID_NONE,
            "PLATFORM_DEVID_AUTO": _platform.PLATFORM_DEVID_AUTO,
        }
    )


_export_driver_model()
