"""The public registry's read model (公开信息): what is published without a login, across the domains;
it writes nothing and keeps no tables of its own."""
