"""The surge simulator (``haven surge``) and the overload benchmark (``haven bench overload``):
election night replayed against a running Haven, measured honestly."""
