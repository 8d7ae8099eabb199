"""Typed policy registry (P1). TO BE IMPLEMENTED (helper "core-mechanisms")."""


def get(key):
    raise NotImplementedError
