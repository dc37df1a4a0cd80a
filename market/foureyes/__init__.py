"""Four-eyes approval (双人审批) and the trusted-account list: proposals of one user that wait for a
second user's approval before the registry records them (rules in ``ledger.control_rules``)."""
