"""Test-only: with ``PYTHONPATH=tests/faults`` every Python process gets the faulty decoder of dcmview_faults."""

import dcmview_faults

dcmview_faults.install()
