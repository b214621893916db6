"""cXML (commerce XML, cxml.org), versions 1.1 to 1.2.07x: the protocol, pure.

Bytes in, dataclasses out, and back. Nothing here imports Flask or SQLAlchemy;
untrusted bytes are parsed only through :mod:`gateway.xml`.
"""
