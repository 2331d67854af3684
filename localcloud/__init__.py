"""The embedded local cloud: everything that stands in for AWS on this machine.

One server process (``localcloud.server``) holds the moto emulator and the controller
(``localcloud.controller``) that follows every API call and makes what the emulator records real:
instances as Docker test hosts and DB secrets as roles on a local PostgreSQL server
(``localcloud.dataplane``), ECS services and tasks as containers (``localcloud.ecs``), load
balancers as local listeners under their DNS names (``localcloud.elb``, ``localcloud.alb``).
Roles never know it exists: they reach it only through the endpoint in the inventory's
``aws_connection``, exactly as they reach AWS.
"""
