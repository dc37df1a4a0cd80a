"""Participants of the registry: identifiers, roles and permissions, signing keys, API credentials.
Imports nothing on purpose, so importing ``accounts.tables`` alone registers its tables cheaply.
"""
