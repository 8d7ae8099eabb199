"""QCare benchmarks: a data generator and a runner that measures each main path against its
lower bound in the same run and prints ratios (``python -m benchmarks <name|all>``).

The runner always works on its own data directory and database (never the production
ones) with the sample app enabled; see :mod:`benchmarks.runner`.
"""
