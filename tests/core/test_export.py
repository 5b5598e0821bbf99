"""EXPORT_SYMBOL: the Kernel's API is the subsystems' own methods, bound at boot."""

import kmemsim
from kmemsim import GFP_KERNEL
from kmemsim.include.linux.export import EXPORT_SYMBOL, export_symbols


def test_kernel_api_is_the_subsystems_own_bound_methods() -> None:
    k = kmemsim.boot("x86_64", mem="256M", cpus=1)
    assert k.kmalloc == k.slab.kmalloc
    assert k.alloc_pages == k.page_alloc.alloc_pages
    assert k.irq_context == k.sched.irq_context
    if "kmemsim.mm.slab_common" not in kmemsim.compiled_modules():
        assert k.kmalloc.__doc__.startswith("kmalloc()")  # mypyc keeps only the signature
    # The two spellings of a kernel name with leading underscores are one function.
    assert getattr(k, "__get_free_pages") == k.get_free_pages
    assert getattr(k, "__free_pages") == k.free_pages_struct
    p = k.kmalloc(100, GFP_KERNEL)
    assert k.ksize(p) == 128


def test_dunder_kernel_names_work_inside_a_users_class() -> None:
    k = kmemsim.boot("x86_64", mem="256M", cpus=1)

    class Driver:
        def __init__(self, kernel: kmemsim.Kernel) -> None:
            self.k = kernel

        def grab(self) -> int:
            return int(self.k.__get_free_pages(GFP_KERNEL, 1))

    addr = Driver(k).grab()
    assert addr and k.virt_to_page(addr).order == 1


def test_export_symbol_binds_methods_and_module_functions() -> None:
    class Sub:
        @EXPORT_SYMBOL("__thing", "thing")
        def thing(self) -> int:
            return 7

        @staticmethod
        @EXPORT_SYMBOL
        def helper(x: int) -> int:
            return x + 1

        def private(self) -> None:
            """Not exported."""

    class K:
        pass

    k = K()
    names = export_symbols(k, Sub())
    assert sorted(names) == ["__thing", "helper", "thing"]
    assert getattr(k, "__thing")() == 7
    assert k.helper(1) == 2  # type: ignore[attr-defined]
    assert not hasattr(k, "private")
