"""A table's items where the panel put them: Qt's ``item()`` and ``horizontalHeaderItem()`` return None for an
empty cell, which these tables never have once filled."""

from __future__ import annotations

from PySide6 import QtWidgets


def header_item(table: QtWidgets.QTableWidget, column: int) -> QtWidgets.QTableWidgetItem:
    """The header item of ``column`` (set by ``setHorizontalHeaderLabels``)."""
    item = table.horizontalHeaderItem(column)
    if item is None:
        raise LookupError(f"column {column} of the table has no header item")
    return item


def cell_item(table: QtWidgets.QTableWidget, row: int, column: int) -> QtWidgets.QTableWidgetItem:
    """The item at (``row``, ``column``), put there when the row was filled."""
    item = table.item(row, column)
    if item is None:
        raise LookupError(f"the table has no item at row {row}, column {column}")
    return item
