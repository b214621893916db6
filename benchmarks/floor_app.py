"""The floor: a bare Flask app that parses the body with lxml and answers a fixed Status."""

from flask import Flask, Response, request
from lxml import etree

app = Flask(__name__)
ANSWER = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<!DOCTYPE cXML SYSTEM "http://xml.cxml.org/schemas/cXML/1.2.069/cXML.dtd">\n'
    b'<cXML payloadID="floor@bench" timestamp="2026-01-01T00:00:00+00:00" version="1.2.069">'
    b'<Response><Status code="200" text="OK"/></Response></cXML>'
)


@app.post("/cxml")
def cxml():
    etree.fromstring(request.get_data(), etree.XMLParser(resolve_entities=False, no_network=True))
    return Response(ANSWER, content_type="text/xml")


@app.get("/page")
def page():
    # The OCI floor: a bare page, no database, no authentication.
    return Response(b"<!doctype html><title>floor</title><p>catalog</p>", content_type="text/html")
