"""Hypothesis strategies more than one test draws from."""

from __future__ import annotations

import unicodedata

from hypothesis import strategies as st

# amounts of money the state machines move: 1 öre up to 2 000 kr, in öre
amounts = st.integers(min_value=1, max_value=2_000_00)

# every decimal digit character Unicode knows that is not 0-9 (years, dates and positions in
# them are malformed)
FOREIGN_DIGITS = [chr(c) for c in range(0x110000)
                  if unicodedata.category(chr(c)) == "Nd" and not "0" <= chr(c) <= "9"]
foreign = st.sampled_from(FOREIGN_DIGITS)
