"""Pledge loans on discharge rights (排污权抵质押): the four steps, release and enforcement, the
appraisal and loan limits, and the certificate a bank verifies offline."""
