"""Personal data: the dated retention rules (retention.toml) and the register of processing activities (register.py)."""
