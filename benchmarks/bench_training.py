"""asv: epochs and fits of fastlr against its NumPy reference, every mode, shape and dtype.

The JIT is compiled (or loaded from its cache) in ``setup``, so timings are steady-state.
"""

from __future__ import annotations

from .common import BLOCKS, DTYPES, IMPLEMENTATIONS, MODES, SHAPES, data, estimator, timing


class Training:
    params = (list(IMPLEMENTATIONS), MODES, SHAPES, DTYPES)
    param_names = ["implementation", "mode", "shape", "dtype"]
    timeout = 300

    def setup(self, implementation: str, mode: str, shape: str, dtype: str) -> None:
        self.X, self.y = data(shape, dtype)
        estimator(implementation, mode, 1).fit(self.X[:1000], self.y[:1000])  # compile

    def time_epoch(self, implementation: str, mode: str, shape: str, dtype: str) -> None:
        estimator(implementation, mode, 1).fit(self.X, self.y)

    def time_fit(self, implementation: str, mode: str, shape: str, dtype: str) -> None:
        estimator(implementation, mode, 5).fit(self.X, self.y)

    def peakmem_fit(self, implementation: str, mode: str, shape: str, dtype: str) -> None:
        estimator(implementation, mode, 5).fit(self.X, self.y)

    def track_final_loss(self, implementation: str, mode: str, shape: str, dtype: str) -> float:
        model = estimator(implementation, mode, 5).fit(self.X, self.y)
        return float(model.loss_history_[-1])


class LossAndGradient:
    """The functional API against its twin: one fused pass."""

    params = (list(IMPLEMENTATIONS), SHAPES, DTYPES)
    param_names = ["implementation", "shape", "dtype"]

    def setup(self, implementation: str, shape: str, dtype: str) -> None:
        import numpy as np

        self.X, self.y = data(shape, dtype)
        self.coef = np.full(self.X.shape[1], 0.5)
        self.function = IMPLEMENTATIONS[implementation].loss_and_gradient
        self.function(self.X, self.y, self.coef, 0.1)

    def time_loss_and_gradient(self, implementation: str, shape: str, dtype: str) -> None:
        self.function(self.X, self.y, self.coef, 0.1)


class Roofline:
    """fastlr's passes as multiples of this machine's limits on the same arrays, measured in the
    same run (``fastlr.devtools.roofline``): a number that means the same on any machine,
    where a time alone says little on a shared, noisy one."""

    params = (SHAPES, DTYPES)
    param_names = ["shape", "dtype"]
    timeout = 300

    def setup(self, shape: str, dtype: str) -> None:
        import numpy as np

        import fastlr
        from fastlr.devtools.roofline import measure_limits
        from fastlr.training.loop import RowOrder

        self.X, self.y = data(shape, dtype)
        self.coef = np.full(self.X.shape[1], 0.5)
        fastlr.loss_and_gradient(self.X, self.y, self.coef, 0.1)
        order = RowOrder(self.X.shape[0], True, 0).next()
        with timing():
            self.limits = measure_limits(self.X, self.y, order, **BLOCKS)

    def track_batch_pass_x_limit(self, shape: str, dtype: str) -> float:
        import fastlr
        from fastlr.devtools.roofline import time_blocks

        X, y, coef = self.X, self.y, self.coef
        with timing():
            times = time_blocks(
                {"pass": lambda: fastlr.loss_and_gradient(X, y, coef, 0.1)}, **BLOCKS
            )
        return times["pass"] / self.limits.batch

    track_batch_pass_x_limit.unit = "x limit"  # type: ignore[attr-defined]

    def track_default_fit_x_gram(self, shape: str, dtype: str) -> float:
        """The default fit (the Gram path: moments, iterations, refinement against the data)
        as a multiple of NumPy's ``X.T @ X`` alone on the same array."""
        import fastlr
        from fastlr.devtools.roofline import time_blocks

        X, y = self.X, self.y
        fastlr.LinearRegression().fit(X, y)  # compiled outside the timing
        with timing():
            times = time_blocks({"fit": lambda: fastlr.LinearRegression().fit(X, y)}, **BLOCKS)
        return times["fit"] / self.limits.gram

    track_default_fit_x_gram.unit = "x X.T @ X"  # type: ignore[attr-defined]

    def track_sgd_epoch_x_random_rows(self, shape: str, dtype: str) -> float:
        """One sgd epoch with the defaults (standardized, averaged, shuffled) as a multiple of a
        one-thread read of the same rows in the same shuffled order: (fit of 3 epochs - fit of
        1) / 2, the epoch without the set-up pass."""
        import fastlr
        from fastlr.devtools.roofline import time_blocks

        X, y = self.X, self.y
        step = 0.1 / X.shape[1]
        one, three = (
            fastlr.LinearRegression(mode="sgd", learning_rate=step, max_iter=m, tol=None)
            for m in (1, 3)
        )
        one.fit(X, y)  # compiled outside the timing
        contenders = {"one": lambda: one.fit(X, y), "three": lambda: three.fit(X, y)}
        with timing():
            times = time_blocks(contenders, **BLOCKS)
        return (times["three"] - times["one"]) / 2 / self.limits.random_rows

    track_sgd_epoch_x_random_rows.unit = "x random-row read"  # type: ignore[attr-defined]
