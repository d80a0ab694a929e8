"""Golden recordings of the learner state machine (see `tests/golden/recorder.py`)."""
