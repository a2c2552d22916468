"""Draw docs/loss_curves.png: fastlr's defaults against the first seed's hand-tuned settings.

Usage: python docs/loss_curves.py  (needs matplotlib: pip install fastlr[plot])
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import fastlr

rng = np.random.default_rng(2017)
x = np.arange(100, step=0.1, dtype=np.float32)
y = (4000 + 50 * x) + rng.normal(0, 3, size=len(x)) * 100
X = x.reshape(-1, 1)
design = np.column_stack([x.astype(np.float64), np.ones(len(x))])
optimum = 0.5 * np.mean((design @ np.linalg.lstsq(design, y, rcond=None)[0] - y) ** 2)

runs = {
    "first seed: unscaled, step 0.0005, 50,000 epochs": fastlr.LinearRegression(
        learning_rate=0.0005, max_iter=50_000, tol=None, standardize=False
    ),
    "fastlr defaults (batch)": fastlr.LinearRegression(),
}
figure, axis = plt.subplots(figsize=(7, 4))
for label, model in runs.items():
    history = model.fit(X, y).loss_history_
    axis.plot(np.arange(1, len(history) + 1), history - optimum, label=f"{label} ({len(history)})")
axis.set(xscale="log", yscale="log", xlabel="epoch", ylabel="loss - least-squares loss")
axis.set_title("First seed's data: epochs to converge (count in brackets)")
axis.legend(fontsize=8)
figure.tight_layout()
figure.savefig(Path(__file__).with_name("loss_curves.png"), dpi=110)
