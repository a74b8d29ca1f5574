""" "Report a problem with this page": a small form in every page's footer that stores what a person
says went wrong (no email address needed), for the operators to read in the console."""
