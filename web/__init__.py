"""Gridline (网格通): the field app for grid-governed communities in an outbreak."""

import os

os.environ.setdefault("PICCOLO_CONF", "web.piccolo_conf")
