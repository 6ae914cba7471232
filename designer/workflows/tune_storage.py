"""The database a tuning study lives in: any SQLAlchemy URL, with heartbeats and retries.

Every worker of a study (processes on one machine, or on many sharing a PostgreSQL or MySQL
server) opens the same URL. Each running trial records a heartbeat every ``heartbeat`` seconds;
a trial whose heartbeat is older than ``grace`` seconds belongs to a worker that died (killed,
out of memory, its node lost): the next worker to look marks it failed and queues a copy with
the same parameters (Optuna's :class:`~optuna.storages.RetryHeartbeatStaleTrialCallback`, the
successor of ``RetryFailedTrialCallback``), which some worker then runs.
"""

from __future__ import annotations

import copy
import time
import warnings

import optuna

from designer.core.errors import DesignerError, ParameterError

MAX_RETRIES = 3
"""How often the trial of a dead worker is run again before it is left failed."""
CREATE_ATTEMPTS = 3
"""Workers starting together race to create the tables of a new database; the losers retry."""
SQLITE_TIMEOUT_S = 60
"""How long an SQLite connection waits for another worker's write lock."""


def retry_afresh(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
    """Queue a dead worker's trial again with the same parameters but nothing of what it found:
    its constraint (which Optuna never overwrites) and user attributes are measured anew."""
    fresh = copy.deepcopy(trial)
    fresh.system_attrs = {key: value for key, value in trial.system_attrs.items() if not key.startswith("constraints")}
    fresh.user_attrs = {}
    optuna.storages.RetryHeartbeatStaleTrialCallback(MAX_RETRIES)(study, fresh)


def open_storage(url: str, heartbeat: int, grace: int) -> optuna.storages.RDBStorage:
    """The study database at ``url``; a :class:`DesignerError` of one line if it cannot be opened."""
    import sqlalchemy
    from sqlalchemy.exc import ArgumentError, IntegrityError, ProgrammingError, SQLAlchemyError

    try:
        parsed = sqlalchemy.engine.make_url(url)
    except ArgumentError:
        raise ParameterError(
            f"{{storage}} {url!r} is not a database URL; give one like sqlite:///tune.db "
            "or postgresql://user:password@host/database"
        ) from None
    if heartbeat < 1 or grace <= heartbeat:
        raise ParameterError(
            f"{{heartbeat}} must be at least 1 s and {{grace}} longer than it, got {heartbeat} and {grace}"
        )
    shown = parsed.render_as_string(hide_password=True)
    sqlite = parsed.get_backend_name() == "sqlite"
    engine = {"connect_args": {"timeout": SQLITE_TIMEOUT_S}} if sqlite else {"pool_pre_ping": True}
    for attempt in range(1, CREATE_ATTEMPTS + 1):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(
                    url,
                    engine_kwargs=engine,
                    heartbeat_interval=heartbeat,
                    grace_period=grace,
                    heartbeat_stale_trial_callback=retry_afresh,
                )
        except ImportError:
            raise DesignerError(
                f"the study storage {shown} needs the Python driver of {parsed.get_backend_name()} "
                "(for PostgreSQL: pip install psycopg2-binary)"
            ) from None
        except (SQLAlchemyError, ValueError) as error:
            racing = isinstance(error, (IntegrityError, ProgrammingError)) or "already exists" in str(error)
            if racing and attempt < CREATE_ATTEMPTS:
                time.sleep(1.0)  # another worker is creating the tables right now: they will be there
                continue
            reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
            raise DesignerError(
                f"cannot open the study storage {shown}: {reason}; check the URL, the server or the file"
            ) from None
    raise DesignerError(f"cannot create the tables of the study storage {shown}")
