"""The workflows that produce ledger transactions, one package per domain: issuance, reserve, expiry,
auctions, trades, cross-city, pledges, blue carbon. Importing the package registers its tables."""

# Each domain keeps its rows in its own tables module; list them here so create_schema sees them.
from market.auctions import tables as _auction_tables  # noqa: F401
from market.bluecarbon import tables as _bluecarbon_tables  # noqa: F401
from market.crosscity import tables as _crosscity_tables  # noqa: F401
from market.households import tables as _household_tables  # noqa: F401
from market.pledges import tables as _pledge_tables  # noqa: F401
from market.proposals import tables as _proposal_tables  # noqa: F401
