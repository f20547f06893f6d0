"""Robustness fuzzing of dcmlib's error boundary (damaged files never crash, hang or confuse).

- :mod:`dcmlib.fuzz.mutate`: a deterministic, seeded generator of damaged DICOM
  files made from pydicom's bundled test files (never downloaded);
- :mod:`dcmlib.fuzz.runner`: runs a callable per case in a forked child with
  memory and time limits and classifies what happened (clean error, traceback,
  signal, hang, ...);
- ``python -m dcmlib.fuzz``: the library boundary over a seeded batch, or a
  coverage-guided Atheris run (``--atheris``; ``pip install dcmview[fuzz]``).

The package never imports the application (``dcmview.py``): a test that checks
the command line passes ``dcmview.main`` in.
"""

from dcmlib.fuzz.mutate import Case, case, cases
from dcmlib.fuzz.runner import CLASSES, FAILURE_CLASSES, Job, Result, run_jobs, table

__all__ = ["Case", "case", "cases", "CLASSES", "FAILURE_CLASSES", "Job", "Result", "run_jobs", "table"]
