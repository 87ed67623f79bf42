"""Relational rows → enumerated ids, fitted feature transforms and CSR arrays."""
