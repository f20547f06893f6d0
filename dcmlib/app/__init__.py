"""The command lines: the flags ``dcmview.py`` and ``convert`` share (:mod:`.args`), the ``convert`` command
(:mod:`.convert`) and what a HighGUI window needs from the platform (:mod:`.screen`).

The top layer: it may import every other part of dcmlib; nothing in dcmlib imports it.
"""
