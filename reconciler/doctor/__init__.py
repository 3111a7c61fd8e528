"""``reconciler doctor``: the setup checked before the first paid render (``checks``: the
project, the state, credentials, renders; ``vendors``: one free call per vendor)."""
