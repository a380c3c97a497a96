"""The main window in three parts: its layout, keys and timers (:mod:`~app.window.main_window`), what its
controls do and how engine events reach its views (:mod:`~app.window.controller`), and the words of its status
lines (:mod:`~app.window.status_text`). The panels it holds are in :mod:`app.panels`, the plots in
:mod:`app.plots`."""
