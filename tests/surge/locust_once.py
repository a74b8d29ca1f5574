"""A Locust user for the suite: every journey of ``bench/locustfile.py`` once in each language, then the
run ends. Nothing is left to chance or to a run time: each journey runs exactly twice, however busy the
machine is."""

from __future__ import annotations

import gevent
from locust import constant, tag, task
from locust.exception import StopTest

from bench import locustfile

LANGUAGES = ("en", "fr")


class EachJourneyOnce(locustfile.Visitor):
    wait_time = constant(0)

    @tag("once")  # the suite runs ``--tags once``: only this task, never the weighted draw
    @task
    def every_journey_in_each_language(self) -> None:
        try:
            for lang in LANGUAGES:
                self.lang = lang
                self.reader()
                self.checker()
                self.applicant()
        except Exception as error:
            # A journey that breaks is a failure in Locust's figures (and its exit code), not a retry.
            self.environment.events.request.fire(
                request_type="JOURNEY",
                name="journey",
                response_time=0,
                response_length=0,
                exception=error,
            )
        # StopTest ends this user only; the run ends when the runner quits, from a greenlet of its own
        # (quitting stops every user, this one included).
        runner = self.environment.runner
        assert runner is not None
        gevent.spawn(runner.quit)
        raise StopTest("every journey ran once in each language")
