"""The workflows that produce ledger transactions: issuance and reserve, auctions, transfers,
pledges, retirement and expiry. Importing the package registers its tables on the metadata."""

# Each workflow area keeps its rows in its own module; list them here so create_schema sees them.
from market import auction_tables as _auction_tables  # noqa: F401
from market import collateral_tables as _collateral_tables  # noqa: F401
from market import issuance_tables as _issuance_tables  # noqa: F401
from market import trade_tables as _trade_tables  # noqa: F401
from market.households import tables as _household_tables  # noqa: F401
