"""Buyer profiles: presets per buyer system, cart rules, pre-flight before transfer.

``presets`` holds what each buyer system accepts (with sources), ``rules`` the
checked rule value a buyer file builds, ``preflight`` the pure check and shaping
of a cart, ``service`` the database side (rules of a buyer, a session's lines,
the events a pre-flight records).
"""
