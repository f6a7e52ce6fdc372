"""Load benchmark of the real ``crypto-helper run`` process against the e2e fakes.

Not a test: ``python -m bench.run`` prints a report (see ``bench/README.md``).
"""
