"""Side panels of the main window: A/B models, ABX, demo controls, pruning and fine-tuning, and the not-yet-built tools."""
