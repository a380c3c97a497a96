"""Side panels of the main window: A/B models, ABX, demo controls, and the not-yet-built tools."""
