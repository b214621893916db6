"""SAP OCI 4.0 (Open Catalog Interface), pure: the catalog call in, NEW_ITEM fields out.

The buyer's browser opens the catalog with login fields, a HOOK_URL and
optional FUNCTION parameters; the cart goes back as an HTML form of
``NEW_ITEM-<FIELD>[n]`` fields posted to HOOK_URL.
"""
