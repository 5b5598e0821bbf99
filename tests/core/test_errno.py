"""Error numbers (include/uapi/asm-generic/errno*.h, include/linux/errno.h) and err.h."""

from __future__ import annotations

import errno as host_errno
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

import kmemsim
from kmemsim.include.linux import errno as kerrno
from kmemsim.include.linux.err import (
    ERR_PTR,
    IS_ERR,
    IS_ERR_OR_NULL,
    MAX_ERRNO,
    PTR_ERR,
    PTR_ERR_OR_ZERO,
)


@pytest.mark.skipif(sys.platform != "linux", reason="host errno values are Linux's")
def test_user_visible_numbers_equal_the_host_linux_errno_module():
    # The host C library's <errno.h> comes from the same asm-generic headers:
    # an independent copy of the table, so a mistyped number fails here.
    checked = 0
    for name, value in kerrno.ERRNO.items():
        if value < 512 and hasattr(host_errno, name):  # Python lacks a few (EHWPOISON)
            assert getattr(host_errno, name) == value, name
            checked += 1
    assert checked >= 130
    # and every name the host knows below 134 is modelled
    for name in dir(host_errno):
        if name == "ENOTSUP":  # glibc's spelling of EOPNOTSUPP, not a kernel name
            continue
        if name.startswith("E") and getattr(host_errno, name) <= 133:
            assert kerrno.ERRNO.get(name) == getattr(host_errno, name), name


def test_kernel_internal_numbers():
    assert kmemsim.EPROBE_DEFER == 517
    assert kmemsim.ERESTARTSYS == 512
    assert kmemsim.ENOTSUPP == 524
    assert (kmemsim.EBUSY, kmemsim.ENOMEM, kmemsim.EINVAL, kmemsim.ENODEV) == (16, 12, 22, 19)


def test_errname_prints_the_first_spelling_of_an_alias():
    assert kerrno.errname(-kmemsim.EAGAIN) == "-EAGAIN"  # not EWOULDBLOCK
    assert kerrno.errname(-kmemsim.EDEADLK) == "-EDEADLK"  # not EDEADLOCK
    assert kerrno.errname(-kmemsim.EPROBE_DEFER) == "-EPROBE_DEFER"
    assert kerrno.errname(-1234) is None


def test_err_ptr_looks_like_the_kernels_pointer():
    assert ERR_PTR(-kmemsim.EBUSY) == 0xFFFFFFFFFFFFFFF0
    assert ERR_PTR(-kmemsim.ENOMEM, bits=32) == 0xFFFFFFF4
    assert not IS_ERR(0xFFFF888000000000)  # a direct-map address
    assert not IS_ERR(0xFFFFFFFFFFFFF000 - 1)
    assert IS_ERR(0xFFFFFFFFFFFFF001)  # -MAX_ERRNO
    assert IS_ERR_OR_NULL(0) and IS_ERR_OR_NULL(None) and not IS_ERR(0)
    assert PTR_ERR_OR_ZERO(0xFFFF888000001000) == 0


@given(st.integers(min_value=1, max_value=MAX_ERRNO), st.sampled_from([32, 64]))
def test_err_ptr_round_trips(err, bits):
    p = ERR_PTR(-err, bits)
    assert IS_ERR(p) and PTR_ERR(p) == -err
    assert p < (1 << bits)


@given(st.integers(min_value=0, max_value=(1 << 64) - MAX_ERRNO - 1))
def test_no_other_64_bit_kernel_address_is_an_error(addr):
    if (1 << 32) - MAX_ERRNO <= addr < (1 << 32):
        return  # user addresses on 64-bit, error values on 32-bit
    assert not IS_ERR(addr)
