"""Exceptions of kmemsim itself.

Kernel bugs are reported in the simulated dmesg in the kernel's own words, as
the kernel does; Python exceptions are for the user's mistakes with kmemsim (a
bad profile, size or configuration) and for an Oops, which a scenario may catch.
"""


class KmemsimError(Exception):
    """A mistake in how kmemsim was asked to do something (bad profile, size, option)."""


class Oops(Exception):
    """The simulated kernel died: a BUG() or a fatal fault. The report is in dmesg.

    `kernel` is the Kernel that died, when the death happened while booting
    (boot() could not return it), so that its log can still be read.
    """

    kernel: object = None
