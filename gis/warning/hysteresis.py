"""One alert per station and rule family, raised once, upgraded when the warning grows, and not
raised again while the value hovers at its threshold.

The state per station and family is the *episode*: the gravest rank alerted since the station was
last rearmed (-1: armed, nothing alerted). A judgement graver than the episode raises an alert, or
upgrades the one still open; a station back below its thresholds by the deadband rearms, and its
open alert becomes clearable (people resolve alerts: the engine only says the value is back).
Lower judgements inside an episode change nothing: an alert is never downgraded by itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .judge import Judgement


@dataclass(frozen=True)
class Decisions:
    """Per station: the new episode rank, and which open alert to raise, upgrade or mark clearable."""

    episode: NDArray[np.int8]
    raise_: NDArray[np.bool_]
    upgrade: NDArray[np.bool_]
    clearable: NDArray[np.bool_]


def decide(episode: NDArray[np.int8], open_alert: NDArray[np.bool_], judged: Judgement) -> Decisions:
    """Given each station's episode rank, whether it has an open (unresolved) alert of this family,
    and the new judgement: what to do."""
    graver = judged.rank > episode
    rearm = judged.rearmed & ~graver
    new_episode = np.where(graver, judged.rank, np.where(rearm, -1, episode)).astype(np.int8)
    return Decisions(new_episode, graver & ~open_alert, graver & open_alert, open_alert & rearm)
