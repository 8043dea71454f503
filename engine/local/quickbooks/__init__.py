"""The local QuickBooks Online API: the product's embedded default and the ground every test stands on.

`QuickBooksState` holds the companies (sqlite), `QuickBooksApp` serves them over the real wire
protocol, `Throttle` and `Faults` optionally add the real limits and injected failures.
"""

from .app import QuickBooksApp
from .faults import Faults
from .throttle import Throttle
from .state import QuickBooksState

__all__ = ["Faults", "QuickBooksApp", "QuickBooksState", "Throttle"]
