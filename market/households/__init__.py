"""Blue-carbon proceeds shared with a cooperative's farming households (社员分配): member register,
roster, attribution at issuance, sales that split the proceeds, member statements.
"""
