"""Channel adapters: each translates its wire format to `Inbound` and renders `Reply`.

`registry.CHANNELS` is the one list of channels; `base.Channel` is what the rest of the
bot knows of one, and `base.Adapter` what its adapter module provides (sender, routes,
notifiers). Adapters never import `bot.services`: their routes take a narrow protocol.
"""
