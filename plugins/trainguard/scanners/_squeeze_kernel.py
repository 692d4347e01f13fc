"""The compiled per-character map (see ``squeeze.py``); imported only by ``squeeze._kernel``.

``nogil``: the lexicon's squeeze runs in a helper thread beside PI validation in the main
one. ``cache``: the machine code is kept beside this file (or in the user's cache), so a
process loads it instead of compiling it again.
"""

from __future__ import annotations

from typing import Any

import numba

_IDENTITY, _NEIGHBOURLY = 254, 255  # squeeze.CharacterMap's length codes


# Arrays in, positionally: the form numba compiles best. One loop with the UTF-8 decoding
# inline: a helper returning a tuple made it 2-3x slower.
@numba.njit(nogil=True, cache=True)
def map_rows(  # noqa: PLR0917, C901
    data: Any,
    offsets: Any,
    start: Any,
    length: Any,
    pool: Any,
    out: Any,
    out_offsets: Any,
    neighbourly: Any,
) -> int:
    """Map every character of the rows ``data``/``offsets`` through the table
    ``start``/``length``/``pool`` into ``out``/``out_offsets``; returns the bytes needed
    (more than ``len(out)``: nothing past it was written, call again). A row holding a
    character the table cannot map alone is marked in ``neighbourly``."""
    written = 0
    capacity = out.shape[0]
    rows = offsets.shape[0] - 1
    for row in range(rows):
        out_offsets[row] = written
        i = offsets[row]
        end = offsets[row + 1]
        while i < end:
            lead = data[i]
            if lead < 0x80:
                point = lead
                size = 1
            elif 0xC2 <= lead < 0xE0 and i + 1 < end:
                point = ((lead & 0x1F) << 6) | (data[i + 1] & 0x3F)
                size = 2
            elif 0xE0 <= lead < 0xF0 and i + 2 < end:
                point = ((lead & 0x0F) << 12) | ((data[i + 1] & 0x3F) << 6) | (data[i + 2] & 0x3F)
                size = 3
            elif 0xF0 <= lead < 0xF5 and i + 3 < end:
                point = ((lead & 0x07) << 18) | ((data[i + 1] & 0x3F) << 12)
                point |= ((data[i + 2] & 0x3F) << 6) | (data[i + 3] & 0x3F)
                size = 4
            else:
                point = 0
                size = 0
            code = length[point] if size > 0 and point < 0x110000 else _NEIGHBOURLY
            if code == _NEIGHBOURLY:  # not UTF-8, or its neighbours matter: Arrow decides
                neighbourly[row] = True
                break
            if code == _IDENTITY:
                if written + size <= capacity:
                    for k in range(size):  # a loop: slices of a few bytes cost more
                        out[written + k] = data[i + k]
                written += size
            else:
                if written + code <= capacity:
                    first = start[point]
                    for k in range(code):
                        out[written + k] = pool[first + k]
                written += code
            i += size
    out_offsets[rows] = written
    return written
