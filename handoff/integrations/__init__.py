"""Integration files for coding agents and git: what `install` writes (`install.py`), how it merges into
existing configs (`config_merge.py`), and where the shipped files live (`resources.py`)."""
