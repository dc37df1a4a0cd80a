"""Blue-carbon credits from mussel farming (贻贝养殖碳汇): projects, monitoring reports, verified
issuance of vintage batches, and the serial numbers (one per tonne) that move with them."""
