"""The embedded local cloud: everything that stands in for AWS on this machine.

Control plane: a moto server on 127.0.0.1 (``localcloud.emulator``).
Data plane: what the emulator only records, made real (``localcloud.dataplane``: instances as
Docker test hosts, DB secrets as roles on a local PostgreSQL server, ``localcloud.dbproxy``).
Roles never import this package; they reach the emulator only through the endpoint URL that
``inventories/local`` sets in ``module_defaults``, and the data plane only through
``python -m localcloud sync`` where ``aws_emulated`` is true.
"""
