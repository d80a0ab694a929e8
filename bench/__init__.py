"""`make bench` (`python -m bench`): measurements kept out of the unit tests.

Each section is a module with a `run() -> list[str]` returning the lines it prints;
`SECTIONS` in `bench.__main__` lists them by name.
"""
