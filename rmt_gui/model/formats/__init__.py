"""Readers for each checkpoint format, chosen from the file's content by ``rmt_gui.model.open``."""
