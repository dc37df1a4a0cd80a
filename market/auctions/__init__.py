"""Auctions of reserve discharge rights and VOCs quotas (排污权竞价): terms and bid checks (model), state,
project needs, bids, the result and settlement (钱货两清), each workflow step in its own module."""
