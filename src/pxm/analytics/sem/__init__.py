"""PXM's structural equation modelling engine (numpy/scipy only; lavaan's syntax, defaults and numbers).

    from pxm.analytics.sem import fit
    result = fit("visual =~ x1 + x2 + x3", df)
    result.to_dict()

``estimate()`` gives the same ML estimates without inference (no standard errors, fit measures or report).
"""

from .api import fit
from .errors import DataError, ModelIdentificationError, ModelSyntaxError, SEMError
from .estimate import Estimates, estimate
from .results import ENGINE_VERSION, SEMResult

__version__ = ENGINE_VERSION

__all__ = ["ENGINE_VERSION", "DataError", "Estimates", "ModelIdentificationError", "ModelSyntaxError", "SEMError",
           "SEMResult", "estimate", "fit"]
