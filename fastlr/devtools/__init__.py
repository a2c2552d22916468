"""Developer tooling, not imported by ``import fastlr``: the ``fastlr bench`` table and the
roofline probe (the machine's limits measured beside the kernels)."""
