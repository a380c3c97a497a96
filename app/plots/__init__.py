"""pyqtgraph views, one module per plot kind. Each has ``refresh(history, models)`` and draws only from
:class:`app.frame_history.FrameHistory`; none talks to the engine."""
