"""The pure functional core of Trainbot.

Nothing in this package does I/O, reads the clock or draws random numbers: it receives a
learner's state, the course catalog, one inbound event and the time, and returns the new
state, the replies and the effects. The `bot` package does everything else.
"""
