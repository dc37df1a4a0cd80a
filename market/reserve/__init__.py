"""The government reserve (政府储备): buying rights back into it (收储) against payment and
allocating reserved quota to a major project (预留指标)."""
