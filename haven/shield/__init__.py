"""The shield: a fair waiting room and adaptive admission control in front of every dynamic route
(gate, room, limiter, tickets and passes, stores in memory or Redis, the waiting page)."""
