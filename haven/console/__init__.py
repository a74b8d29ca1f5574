"""The operators' console at ``/admin``: operator accounts with a second factor, the waiting room
live and its controls, and the audit log of every action."""
