"""Every table Haven has, imported in one place so the metadata is whole (migrations, drift test)."""

from __future__ import annotations


def load_models() -> None:
    from haven.accounts import models as accounts  # noqa: F401
    from haven.console import models as console  # noqa: F401
    from haven.feedback import models as feedback  # noqa: F401
    from haven.mail import models as mail  # noqa: F401
    from haven.profiles import models as profiles  # noqa: F401
    from haven.rounds import models as rounds  # noqa: F401
    from haven.turnmail import models as turnmail  # noqa: F401
