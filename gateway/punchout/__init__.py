"""The application layer between HTTP and the protocol cores.

One inbound cXML request (``cxml``) or SAP OCI catalog call (``oci``) from
parse to answer: authentication, provisioning, sessions, orders. The protocol
packages ``gateway.cxml`` and ``gateway.oci`` stay pure (no Flask, no database).
"""
