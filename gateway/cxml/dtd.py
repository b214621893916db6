"""Validation against the official cXML DTDs kept in a local directory.

The directory holds ``<version>/<name>.dtd`` (for example ``1.2.069/cXML.dtd``).
The document never chooses which file is opened beyond picking a version and
a DTD name that already exist there; nothing is fetched over the network.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from lxml import etree

from gateway.xml import parse

_SYSTEM_ID = re.compile(r"/cxml/(\d+\.\d+\.\d+)/(\w+)\.dtd$", re.IGNORECASE)


class DtdCatalog:
    def __init__(self, directory: str | Path):
        self.directory = Path(directory)

    def versions(self) -> list[str]:
        return sorted(p.name for p in self.directory.iterdir() if p.is_dir())

    def path(self, version: str, name: str) -> Path | None:
        candidate = self.directory / version / f"{name}.dtd"
        if candidate.parent.parent != self.directory or not candidate.is_file():
            return None
        return candidate

    def validate(self, document: bytes) -> list[str]:
        """Return the DTD errors of a document (empty when valid).

        The DTD is chosen by the document's DOCTYPE system id.
        """
        parsed = parse(document)
        match = _SYSTEM_ID.search(parsed.system_url or "")
        if not match:
            return [f"no cXML DOCTYPE system id to choose a DTD from: {parsed.system_url!r}"]
        version, name = match.groups()
        path = self.path(version, name)
        if path is None:
            return [f"no local DTD for {name}.dtd version {version} in {self.directory}"]
        dtd = _load(str(path))
        if dtd.validate(parsed.root):
            return []
        return [str(e) for e in dtd.error_log.filter_from_errors()]


@lru_cache(maxsize=32)
def _load(path: str) -> etree.DTD:
    return etree.DTD(path)
