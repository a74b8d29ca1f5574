"""The shield: a fair waiting room and adaptive admission control in front of every dynamic route.

Two layers of the front share one ``core.Shield`` per worker: ``waiting.WaitingRoom`` (the waiting
page, its JSON status, the operators' API) and ``admission.Admission`` (passes, tickets, rate limits,
the limiter and the hash lane). Below them: the room, the limiter and the lane, signed tickets and
passes, the stores (in memory or Redis) and the waiting pages. The shield imports no feature of
Haven's: the app hands it what it needs."""
