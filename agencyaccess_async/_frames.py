"""Records as a pandas DataFrame: a row per record, a column per field.

``pd.DataFrame(clients)`` gives one column of objects, because pandas does not
know attrs classes. ``to_dataframe`` turns models through ``Model.to_dict``
(the converter's rules: Python names, enum values, ``datetime`` kept, so a
timestamp column is a pandas datetime) and bulk results through
``to_row()``. pandas is imported when called: it is not a dependency.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from ._models import Model

if TYPE_CHECKING:
    import pandas

    from ._bulk import Failed, Succeeded

__all__ = ["to_dataframe"]


def to_dataframe(
    records: Iterable[Model] | Iterable[Succeeded[Any] | Failed[Any]], *, by_alias: bool = False
) -> pandas.DataFrame:
    """A DataFrame with a row per record and a column per field.

    ``records`` are models (what ``collect()``, a ``Page`` or
    ``links.statuses(...).collect()`` give) or a bulk run's results. Nested
    values (``metadata``, ``services``, ``grants``) stay one column each.
    ``by_alias=True`` names the columns as the wire does. Needs pandas
    (``pip install pandas``).
    """
    try:
        import pandas
    except ModuleNotFoundError as missing:
        raise ImportError("to_dataframe needs pandas: pip install pandas") from missing
    return pandas.DataFrame(_rows(records, by_alias))


def _rows(records: Iterable[Any], by_alias: bool) -> Iterator[dict[str, Any]]:
    for record in records:
        if isinstance(record, Model):
            yield record.to_dict(by_alias=by_alias)
        elif callable(getattr(record, "to_row", None)):
            yield record.to_row()
        else:
            raise TypeError(
                f"to_dataframe takes models or bulk results, not {type(record).__name__}"
            )
