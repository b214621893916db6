"""Made-up but realistic catalogs for the catalog benchmarks (deterministic)."""

from __future__ import annotations

import csv
import io
import random

NOUNS = [
    "glove",
    "bolt",
    "nut",
    "washer",
    "screw",
    "anchor",
    "vest",
    "helmet",
    "goggles",
    "drill",
    "driver",
    "grinder",
    "saw",
    "jigsaw",
    "wrench",
    "hammer",
    "tape",
    "cable",
    "tie",
    "cord",
    "lamp",
    "tube",
    "paper",
    "pen",
    "file",
    "towel",
    "spray",
    "cleaner",
    "filter",
    "valve",
    "pump",
    "hose",
    "fitting",
    "coupling",
    "bearing",
    "seal",
    "gasket",
    "chain",
    "rope",
    "ladder",
    "cart",
    "shelf",
    "bin",
    "label",
    "marker",
    "battery",
    "charger",
    "switch",
    "socket",
    "plug",
    "fuse",
    "relay",
    "sensor",
    "motor",
    "belt",
    "pulley",
]
ADJECTIVES = [
    "nitrile",
    "leather",
    "safety",
    "heavy",
    "duty",
    "stainless",
    "galvanized",
    "zinc",
    "plated",
    "cordless",
    "electric",
    "insulated",
    "magnetic",
    "black",
    "white",
    "blue",
    "red",
    "yellow",
    "large",
    "small",
    "compact",
    "industrial",
    "disposable",
    "reusable",
    "flexible",
    "rigid",
    "waterproof",
    "hex",
    "flat",
    "round",
    "square",
    "metric",
    "imperial",
]
MAKERS = [
    f"{a}{b}"
    for a in ("Nor", "Ans", "Wur", "Mak", "Bos", "Sta", "Hel", "Tor")
    for b in ("th", "ell", "ita", "ch", "nley", "ler", "ka", "mann", "sen", "co")
]
CATEGORIES = [f"Category {i:02d}" for i in range(40)]
UNITS = ("EA", "BX", "PK", "PR", "SET", "C62", "MTR", "KGM")


def products(count: int, seed: int = 17):
    rng = random.Random(seed)
    for i in range(count):
        words = [rng.choice(ADJECTIVES), rng.choice(ADJECTIVES), rng.choice(NOUNS)]
        size = rng.choice(("M6", "M8", "M10", "10 mm", "25 mm", "1/2 in", "size 9", "2 m"))
        pack, number = rng.choice((1, 5, 10, 100)), rng.randint(100, 99999)
        yield {
            "sku": f"SKU-{i:07d}",
            "description": f"{' '.join(words).capitalize()}, {size}, pack of {pack}",
            "unit_price": f"{rng.randint(50, 500000) / 100:.2f}",
            "currency": "EUR",
            "uom": rng.choice(UNITS),
            "manufacturer": rng.choice(MAKERS),
            "manufacturer_part_id": f"{rng.choice('ABCDEFGH')}{rng.choice('KLMN')}-{number}",
            "category": rng.choice(CATEGORIES),
            "keywords": rng.choice(NOUNS),
        }


def csv_bytes(count: int) -> bytes:
    out = io.StringIO()
    rows = products(count)
    first = next(rows)
    writer = csv.DictWriter(out, fieldnames=list(first), lineterminator="\n")
    writer.writeheader()
    writer.writerow(first)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")
