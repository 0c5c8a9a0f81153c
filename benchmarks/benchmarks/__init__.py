"""airspeed velocity (asv) benchmarks of jitmlp.

The workload definitions live in :mod:`benchmarks.workloads`; ``scripts/compare.py`` imports the
same module, so the asv suite and the side-by-side comparison always time the same thing.
"""
