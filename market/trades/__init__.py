"""Bilateral trades (排污权交易) between enterprises of one jurisdiction, the seller's standing offers,
and plain transfers (划转) between holdings."""
