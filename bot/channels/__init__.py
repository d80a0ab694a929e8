"""Channel adapters: each translates its wire format to `Inbound` and renders `Reply`."""
