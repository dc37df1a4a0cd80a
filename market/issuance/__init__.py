"""Discharge rights and VOCs quotas under a jurisdiction's cap (总量控制): the cap, allocation with
its paid-use fee (有偿使用), and the bureau's allocation offers waiting on the enterprise."""
