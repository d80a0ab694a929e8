"""`python -m bot.cli`: the `trainbot` command without the console script."""

from bot.cli import main

main()
