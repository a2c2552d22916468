"""Arrays whose last element ends where readable memory ends, for kernels that read in vectors:
a load of one byte past the end faults (the test process dies) instead of passing unseen."""

import ctypes
import mmap

import numpy as np

PAGE = mmap.PAGESIZE


def ending_at_a_guard_page(count, dtype):
    """A writable 1-D array of ``count`` elements of ``dtype`` followed by a page that may not
    be read (``mprotect`` through libc: Linux only). The mapping lives as long as the array."""
    nbytes = count * np.dtype(dtype).itemsize
    size = -(-nbytes // PAGE) * PAGE
    region = mmap.mmap(-1, size + PAGE)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    address = np.frombuffer(region, dtype=np.uint8).ctypes.data
    assert libc.mprotect(address + size, PAGE, 0) == 0  # PROT_NONE
    return np.frombuffer(region, dtype=dtype, count=count, offset=size - nbytes)


def check_the_fused_pass_on(X, seed):
    """Fill ``X`` (rows ending at a guard page) with normals and hold one serial fused pass over
    it to NumPy in float64; return the random generator, to go on with."""
    from fastlr import kernels

    n, d = X.shape
    rng = np.random.default_rng(seed)
    X[:] = rng.standard_normal((n, d))
    y = rng.standard_normal(n).astype(X.dtype)
    coef = rng.standard_normal(d)
    grad = np.empty(d)
    loss, grad_b = kernels.fused_pass_serial(X, y, coef, 0.25, grad)
    r = X.astype(np.float64) @ coef + 0.25 - y
    np.testing.assert_allclose(loss, 0.5 * np.mean(r * r), rtol=1e-12)
    np.testing.assert_allclose(grad_b, np.mean(r), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(grad, X.T.astype(np.float64) @ r / n, rtol=1e-11, atol=1e-14)
    return rng
