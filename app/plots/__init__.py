"""pyqtgraph views, one module per plot kind; none talks to the engine. The live views have
``refresh(history, models)`` and draw only from :class:`app.plots.frame_history.FrameHistory`; ``training_curves``
draws a training run's events, ``pareto`` the model library's cards."""
