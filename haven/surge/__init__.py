"""The surge simulator (``haven surge``): election night replayed against a running Haven, measured
honestly. The overload benchmark that drives it against servers it starts is ``bench/overload.py``."""
