"""One proposal model (提议/待办) for every step that waits on other signatures: trade, paid-use and
buy-back offers and four-eyes approvals (双人审批) are kinds of it."""
