"""The main window: its layout and wiring (:mod:`~app.window.main_window`) and the words of its status
lines (:mod:`~app.window.status_text`). The panels it holds are in :mod:`app.panels`, the plots in
:mod:`app.plots`."""
