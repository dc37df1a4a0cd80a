"""ecoledger's core: a signed, hash-chained, double-entry ledger of rights, quotas and credits.

Pure values and rules (``model``, ``rules``, ``replay``) and their persistence (``service``);
nothing here knows of HTTP.
"""
