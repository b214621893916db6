"""Products and prices: one reader per catalog format, exporters, and search.

``csv`` (our own columns), ``cif`` (Ariba CIF 3.0) and ``bmecat`` (BMEcat 2005)
read files into rows; ``records`` checks every row; ``loader`` writes a checked
catalog; ``export`` writes CIF 3.0 and Jaggaer CSV; ``search`` finds products.
"""

from gateway.catalog.products import (
    PricedProduct,
    categories,
    priced,
    product_for,
    quantity_problem,
)
from gateway.catalog.search import SearchResult, search

__all__ = [
    "PricedProduct",
    "SearchResult",
    "categories",
    "priced",
    "product_for",
    "quantity_problem",
    "search",
]
