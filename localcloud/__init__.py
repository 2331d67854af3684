"""The embedded local cloud: everything that stands in for AWS on this machine.

Control plane: a moto server on 127.0.0.1 (``localcloud.emulator``).
Roles never import this package; they reach the emulator only through the
endpoint URL that ``inventories/local`` sets in ``module_defaults``.
"""
