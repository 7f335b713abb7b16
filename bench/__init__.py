"""Duban's benchmarks (``make bench``): each states its workload, measures a baseline in the same
run and reports ratios to it, because the machine is shared and noisy.

Run ``python -m bench --help``. Results: a table on stdout and ``bench/results/latest.json``.
"""
