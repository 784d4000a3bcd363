"""crmkit's exceptions.

Every error crmkit raises on bad input is a :class:`CrmError`, itself a
``ValueError``, so ``except ValueError`` keeps working in existing ETL code.
The classes live in the compiled module so Rust and Python raise the same ones.

>>> from crmkit.errors import CrmError, SchemaError
>>> issubclass(SchemaError, CrmError) and issubclass(CrmError, ValueError)
True
"""

from crmkit._core import ConvergenceError, CrmError, SchemaError, TooLargeError

__all__ = ["CrmError", "SchemaError", "TooLargeError", "ConvergenceError"]
