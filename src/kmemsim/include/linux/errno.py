"""Model of include/linux/errno.h: every error number a kernel function may return.

The user-visible numbers come from include/uapi/asm-generic/errno-base.h and
errno.h (kmemsim.include.uapi.asm_generic); this header adds the ones that
never reach user space: the restart codes of signal handling and the driver
core's EPROBE_DEFER, "Driver requests probe retry". A kernel function
returns them negated: `return -EPROBE_DEFER;` is `return -EPROBE_DEFER` here.

`ERRNO` maps every name to its number; `errname(err)` is lib/errname.c's
name for an error, which printk's `%pe` prints ("-EBUSY").
"""

from __future__ import annotations

from kmemsim.include.uapi.asm_generic import errno as _uapi_errno
from kmemsim.include.uapi.asm_generic import errno_base as _uapi_errno_base
from kmemsim.include.uapi.asm_generic.errno import *  # noqa: F403
from kmemsim.include.uapi.asm_generic.errno_base import *  # noqa: F403

# Should never be seen by user programs.
ERESTARTSYS = 512
ERESTARTNOINTR = 513
ERESTARTNOHAND = 514  # restart if no handler..
ENOIOCTLCMD = 515  # No ioctl command
ERESTART_RESTARTBLOCK = 516  # restart by calling sys_restart_syscall
EPROBE_DEFER = 517  # Driver requests probe retry
EOPENSTALE = 518  # open found a stale dentry
ENOPARAM = 519  # Parameter not supported

# Defined for the NFSv3 protocol.
EBADHANDLE = 521  # Illegal NFS file handle
ENOTSYNC = 522  # Update synchronization mismatch
EBADCOOKIE = 523  # Cookie is stale
ENOTSUPP = 524  # Operation is not supported
ETOOSMALL = 525  # Buffer or request is too small
ESERVERFAULT = 526  # An untranslatable error occurred
EBADTYPE = 527  # Type not supported by server
EJUKEBOX = 528  # Request initiated, but will not complete before timeout
EIOCBQUEUED = 529  # iocb queued, will get completion event
ERECALLCONFLICT = 530  # conflict with recalled state
ENOGRACE = 531  # NFS file lock reclaim refused

# Names that are a second spelling of another number (errname() prints the first).
_ALIASES = frozenset({"EWOULDBLOCK", "EDEADLOCK"})


def _collect() -> dict[str, int]:
    names: dict[str, int] = {}
    for module_vars in (vars(_uapi_errno_base), vars(_uapi_errno), globals()):
        for name, value in module_vars.items():
            if name.startswith("E") and name.isupper() and isinstance(value, int):
                names[name] = value
    return names


# Every errno name -> its number (aliases included).
ERRNO: dict[str, int] = _collect()

_NAME_OF: dict[int, str] = {v: n for n, v in ERRNO.items() if n not in _ALIASES}


def errname(err: int) -> str | None:
    """lib/errname.c errname(): "-EBUSY" for -16, "EBUSY" for 16; None if unknown."""
    name = _NAME_OF.get(abs(err))
    if name is None:
        return None
    return "-" + name if err < 0 else name
