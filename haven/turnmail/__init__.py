""" "Email me when it's my turn": a person waiting leaves an address and closes the tab; when the
counter reaches their number, Haven emails them a signed, single-use link that lets them in."""
