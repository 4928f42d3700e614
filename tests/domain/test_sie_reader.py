"""The SIE 4 reader (ledger.sie, ledger.sie_lines): decoding, fields, records, vouchers, #KSUMMA."""

import datetime
import re
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import Malformed
from ledger.sie import (
    BTRANS,
    RTRANS,
    TRANS,
    Account,
    Dimension,
    FiscalYear,
    ObjectBalance,
    ObjectDef,
    PeriodBalance,
    Voucher,
    read_sie,
)
from ledger.sie_lines import checksum, decoded_lines, split_fields
from ledger.values import Amount

D = datetime.date


def sie(*lines: str, encoding: str = "cp437", eol: str = "\r\n", bom: bool = False) -> list[bytes]:
    """Record lines as the raw byte lines of a file in ``encoding``."""
    raw = [(line + eol).encode(encoding) for line in lines]
    if bom:
        raw[0] = b"\xef\xbb\xbf" + raw[0]
    return raw


def read(*lines: str, **kw) -> list:
    """Every record of a file made of ``lines`` (see :func:`sie`)."""
    enc = kw.pop("read_as", "auto")
    return list(read_sie(sie(*lines, **kw), encoding=enc))


def vouchers(records: list) -> list[Voucher]:
    return [r for r in records if isinstance(r, Voucher)]


def malformed(match: str, *lines: str, **kw) -> None:
    """Reading ``lines`` raises Malformed whose message matches ``match``."""
    with pytest.raises(Malformed, match=match):
        read(*lines, **kw)


HEAD = ["#FLAGGA 0", "#FORMAT PC8", "#SIETYP 4", "#RAR 0 20180101 20181231"]
LON = ['#VER A 1 20180315 "Lön mars"', "{", '#TRANS 7010 {1 "4110"} 1000.00', "#TRANS 1930 {} -1000.00", "}"]


# --------------------------------------------------------------------------- encodings


def test_cp437_file_reads_swedish_letters():
    """A cp437 (PC8) file's å, ä, ö come out as those letters: 'Lön', never 'L÷n'."""
    recs = read(*HEAD, '#KONTO 7010 "Lön till tjänstemän"', '#DIM 1 "Kostnadsställe"', *LON)
    assert Account("7010", "Lön till tjänstemän", 5) in recs
    assert Dimension(1, "Kostnadsställe", 6) in recs
    assert vouchers(recs)[0].text == "Lön mars"
    assert "Lön".encode("cp437") == b"L\x94n"  # the byte a latin-1 reader would show as '÷'


@pytest.mark.parametrize("bom", [False, True])
def test_utf8_file_with_and_without_bom(bom):
    """UTF-8 with or without a byte order mark is recognised by auto; the BOM is not text."""
    recs = read("#FLAGGA 0", '#KONTO 7010 "Lön åäö ÅÄÖ"', *LON, encoding="utf-8", bom=bom)
    assert recs[0] == Account("7010", "Lön åäö ÅÄÖ", 2)
    assert vouchers(recs)[0].text == "Lön mars"


def test_latin1_forced():
    """--encoding latin-1 reads ISO-8859-1 bytes, which auto would take for cp437."""
    lines = ("#FLAGGA 0", '#KONTO 7010 "Lön"')
    assert read(*lines, encoding="latin-1", read_as="latin-1")[0].name == "Lön"
    assert read(*lines, encoding="latin-1")[0].name == "L÷n"  # what auto (cp437) makes of them


def test_forced_encoding_overrides_auto():
    """--encoding cp437 reads a file whose bytes happen to be valid UTF-8 as cp437."""
    assert read("#KONTO 1 Lön", encoding="utf-8", read_as="cp437")[0].name == "L├╢n"


def test_auto_decides_on_the_first_non_ascii_lines_not_the_first_64_kib():
    """A cp437 file whose first 64 KiB are plain ASCII is still read as cp437."""
    filler = [f'#KONTO {n} "Konto {n:05d} xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"' for n in range(2000)]
    recs = read(*filler, '#KONTO 7010 "Lön"')
    assert recs[-1].name == "Lön"


def test_a_late_non_utf8_byte_in_a_file_judged_utf8_names_its_line():
    """Bytes that are not UTF-8 after auto judged the file UTF-8 are Malformed with the line."""
    good = [f'#KONTO {n} "Lön {n:05d} xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"'.encode() + b"\n" for n in range(1200)]
    bad = '#KONTO 9999 "Lön"\n'.encode("cp437")
    with pytest.raises(Malformed, match=r"^line 1201: byte 0x94 \(byte 15 of the line\) is not utf-8"):
        list(read_sie([*good, bad]))


def test_crlf_and_lf_and_tabs():
    """Lines end in CRLF or LF, and fields are separated by any run of spaces and tabs."""
    for eol in ("\r\n", "\n"):
        recs = read("#RAR\t0  \t20180101\t\t20181231", eol=eol)
        assert recs == [FiscalYear(0, D(2018, 1, 1), D(2018, 12, 31), 1)]


def test_decoded_lines_refuses_a_bytes_object():
    """Passing the whole file as one bytes object (not lines) is a programming error."""
    with pytest.raises(TypeError):
        list(decoded_lines(b"#FLAGGA 0\n"))


# --------------------------------------------------------------------------- fields


def test_quoted_fields_hold_spaces_and_escaped_quotes():
    """A quoted field keeps its spaces, '\\"' is a quote, '""' is the empty field."""
    assert split_fields(r'#KONTO 1915 "Kassa \"special\"" "" x', 1) == ["#KONTO", "1915", 'Kassa "special"', "", "x"]


def test_object_lists_quoted_unquoted_and_empty():
    """Object lists hold pairs, quoted or not, with or without spaces; {} and { } are empty."""
    recs = read(
        *HEAD,
        '#VER A 1 20180315 "x"', "{",
        '#TRANS 7010 {1 "4110" 20 "9902" 6 "PM01"} 10.00',
        "#TRANS 7010 {1 4110 20 9902} 5",
        '#TRANS 7010 {"1" "A B"} -5.50',
        "#TRANS 1930 {} -5.00",
        "#TRANS 1930 { } -4.50",
        "}",
    )  # fmt: skip
    objects = [row.objects for row in vouchers(recs)[0].rows]
    assert objects == [((1, "4110"), (20, "9902"), (6, "PM01")), ((1, "4110"), (20, "9902")), ((1, "A B"),), (), ()]


def test_unknown_records_and_blank_lines_are_skipped():
    """Records the reader does not know, also inside a voucher, and blank lines are skipped."""
    recs = read("#FLAGGA 0", "", "#PROGRAM x 1", "   ", "#IB 0 1930 10.00", '#VER A 1 20180315 "x"', "{",
                "#TRANS 7010 {} 1", "#FOO bar", "#TRANS 1930 {} -1", "}", "#UB 0 1930 5")  # fmt: skip
    assert [type(r) for r in recs] == [Voucher]
    assert [row.place for row in recs[0].rows] == [1, 2]


# --------------------------------------------------------------------------- records


def test_rar_oub_psaldo_dim_objekt():
    """#RAR, #DIM, #OBJEKT, #OUB and #PSALDO come out as values with exact amounts."""
    recs = read(
        "#RAR 0 20180101 20181231", "#RAR -1 20170101 20171231", '#DIM 20 "Statsbidrag"',
        '#OBJEKT 20 "9902" "Professionsmiljarden"', '#OUB 0 7010 {20 "9902"} 12345.67',
        '#PSALDO 0 201803 7010 {20 "9902"} -0.5 3', "#PSALDO -1 201712 7010 {} 100",
    )  # fmt: skip
    assert recs == [
        FiscalYear(0, D(2018, 1, 1), D(2018, 12, 31), 1),
        FiscalYear(-1, D(2017, 1, 1), D(2017, 12, 31), 2),
        Dimension(20, "Statsbidrag", 3),
        ObjectDef(20, "9902", "Professionsmiljarden", 4),
        ObjectBalance(0, "7010", ((20, "9902"),), Amount(1234567), 5),
        PeriodBalance(0, "201803", "7010", ((20, "9902"),), Amount(-50), 6),
        PeriodBalance(-1, "201712", "7010", (), Amount(10000), 7),
    ]
    assert (recs[5].year, recs[5].month) == (2018, 3)


def test_voucher_and_row_fields():
    """A voucher gives serie, vernr, dates, text and line; a row its transdat, text and place."""
    recs = read(*HEAD, '#VER "A" 101 20180315 "Lön mars" 20180320 "anna"', "{",
                '#TRANS 7010 {20 "9902"} 1250.50 20180301 "Lön Pia" 1 "anna"',
                '#TRANS 1930 {} -1250.50 "" ""', "}")  # fmt: skip
    (v,) = vouchers(recs)
    assert (v.serie, v.vernr, v.date, v.text, v.regdate, v.line) == ("A", "101", D(2018, 3, 15), "Lön mars", D(2018, 3, 20), 5)
    first, second = v.rows
    assert (first.kind, first.account, first.amount, first.transdat, first.text, first.place, first.line) == (
        TRANS, "7010", Amount(125050), D(2018, 3, 1), "Lön Pia", 1, 7)
    assert (second.transdat, second.text, second.amount.ore) == (None, None, -125050)


def test_added_row_and_its_echo_and_a_struck_row_take_the_right_places():
    """#RTRANS is a row, its identical #TRANS echo is not; #BTRANS takes a place but does not count."""
    recs = read(*HEAD, '#VER A 7 20180315 "Rättelse"', "{",
                "#TRANS 7010 {} 1200.00",
                "#TRANS 1930 {} -1200.00",
                "#BTRANS 7010 {} 1200.00",
                "#RTRANS 7010  {}  1000.00",
                "#TRANS 7010 {} 1000.00",    # echo: same fields, other spacing
                "#RTRANS 7010 {} 200.00",
                "#TRANS 7010 {} 200.00",     # echo
                "#TRANS 7010 {} 200.00",     # not directly after an #RTRANS: a real row
                "#RTRANS 1930 {} -1400.00",  # no echo follows: still a row
                "#BTRANS 1930 {} 999.99",
                "}")  # fmt: skip
    (v,) = vouchers(recs)
    assert [(r.kind, r.place, r.counts, r.line) for r in v.rows] == [
        (TRANS, 1, True, 7), (TRANS, 2, True, 8), (BTRANS, 3, False, 9), (RTRANS, 4, True, 10),
        (RTRANS, 5, True, 12), (TRANS, 6, True, 14), (RTRANS, 7, True, 15), (BTRANS, 8, False, 16),
    ]  # fmt: skip
    assert sum(r.amount.ore for r in v.counting_rows) == 0


def test_an_echo_that_differs_is_a_row_of_its_own():
    """A #TRANS after an #RTRANS that is not identical to it is a second row."""
    recs = read('#VER A 1 20180315 "x"', "{", "#RTRANS 7010 {} 10", "#TRANS 7010 {} 10 20180301",
                "#TRANS 1930 {} -20", "}")  # fmt: skip
    assert [(r.kind, r.place) for r in recs[0].rows] == [(RTRANS, 1), (TRANS, 2), (TRANS, 3)]


def test_unbalanced_voucher_is_malformed_naming_it_and_its_line():
    """A voucher whose counting rows do not sum to 0.00 is Malformed, naming the #VER's line."""
    malformed(r"^line 5: the voucher A 1 of 2018-03-15 does not balance: its rows sum to 0.01, not 0.00$",
              *HEAD, '#VER A 1 20180315 "x"', "{", "#TRANS 7010 {} 100.01", "#TRANS 1930 {} -100", "}")


def test_a_struck_row_does_not_count_toward_the_balance():
    """A voucher balanced without its #BTRANS rows is balanced; with them it would not be."""
    recs = read('#VER A 1 20180315 "x"', "{", "#TRANS 7010 {} 10", "#BTRANS 7010 {} 5", "#TRANS 1930 {} -10", "}")
    assert len(vouchers(recs)) == 1


# --------------------------------------------------------------------------- malformed input


@pytest.mark.parametrize("amount", ["12,50", "1.234", "1 000", "+5", "1e3", "12.", ".5", "abc", "1,000.00"])
def test_malformed_amount_names_its_line(amount):
    """An amount that is not digits with an optional '.' and at most two decimals is refused."""
    malformed(rf"^line 3: #TRANS amount '{re.escape(amount)}' is not an amount with a '\.' decimal point",
              '#VER A 1 20180315 "x"', "{", f'#TRANS 7010 {{}} "{amount}"', "#TRANS 1930 {} -1", "}")


@pytest.mark.parametrize("record, message", [
    ('#VER A 1 2018-03-15 "x"', r"^line 1: verdatum '2018-03-15' is not a date YYYYMMDD$"),
    ('#VER A 1 20180230 "x"', r"^line 1: verdatum '20180230' is not a real date"),
    ("#RAR 0 20180101 2018123", r"^line 1: slut '2018123' is not a date YYYYMMDD$"),
    ("#RAR 0 20181231 20180101", r"^line 1: #RAR 0 ends"),
    ("#RAR 0", r"^line 1: #RAR needs årsnr start slut"),
    ("#PSALDO 0 201813 7010 {} 1", r"^line 1: #PSALDO period '201813' is not YYYYMM$"),
    ('#KONTO 7010 "Lön', r"^line 1: the quote at column 13 is never closed$"),
    ('#OUB 0 7010 {20 "9902" 1', r"^line 1: object list '\{' at column 13 has no '\}'$"),
    ("#OUB 0 7010 {20} 1", r"^line 1: #OUB object list \{20\} is not pairs"),
    ("#OUB 0 7010 {x 1} 1", r"^line 1: dimensionsnr 'x' is not a whole number$"),
    ("#OUB 0 7010 1", r"^line 1: #OUB needs årsnr konto"),
    ("#KONTO 7010 \"L\x01n\"", r"^line 1: control character U\+0001 at column 15$"),
    ("KONTO 7010 x", r"^line 1: a record starts with a #LABEL, not 'KONTO'$"),
])  # fmt: skip
def test_malformed_records_name_their_line(record, message):
    """Bad dates, periods, quotes, braces, object lists and missing fields are Malformed with the line."""
    malformed(message, record, '#TRANS 1 {} 1' if record.startswith("#VER") else "#FLAGGA 0")


@pytest.mark.parametrize("lines, message", [
    (["#FLAGGA 0", "#TRANS 7010 {} 1"], r"^line 2: #TRANS outside a voucher"),
    (["#RTRANS 7010 {} 1"], r"^line 1: #RTRANS outside a voucher"),
    (['#VER A 1 20180315 "x"', "#TRANS 7010 {} 1"], r"^line 2: the #VER of line 1 is not followed by '\{'$"),
    (['#VER A 1 20180315 "x"', "{", "#TRANS 7010 {} 0"], r"^line 1: the voucher A 1 of 2018-03-15 has no closing '\}'"),
    (['#VER A 1 20180315 "x"', "{", '#VER A 2 20180315 "y"'], r"^line 3: #VER inside the voucher A 1"),
    (["{"], r"^line 1: '\{' without a #VER before it$"),
    (["#FLAGGA 0", "}"], r"^line 2: '\}' without a #VER before it$"),
    (['#VER A 1 20180315 "x"', "{", "#TRANS 7010 2.00 {}", "}"], r"^line 3: #TRANS needs an object list"),
])  # fmt: skip
def test_malformed_structure_names_its_line(lines, message):
    """Rows outside a voucher, a voucher without braces and stray braces are Malformed with the line."""
    malformed(message, *lines)


# --------------------------------------------------------------------------- #KSUMMA


def _spec_crc32(data: bytes) -> int:
    """The table algorithm as printed in SIE filformat 4B, section 10 ('Kodexempel')."""
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ 0xEDB88320 if crc & 1 else crc >> 1
        table.append(crc)
    crc = 0xFFFFFFFF
    for byte in data:
        crc = ((crc >> 8) & 0x00FFFFFF) ^ table[(crc ^ byte) & 0xFF]
    return crc ^ 0xFFFFFFFF


def test_crc32_is_the_specifications_algorithm():
    """zlib.crc32, which the reader uses, equals the spec's C code on cp437 bytes."""
    data = '#KONTO1915Kassa "special"Lön åäö ÅÄÖ'.encode("cp437") + bytes(range(256))
    assert zlib.crc32(data) == _spec_crc32(data)


def test_checksum_covers_label_and_field_contents_only_as_in_the_spec_example():
    """Spec 10.15: of #KONTO 1915 "Kassa \\"special\\"" only '#KONTO1915Kassa "special"' is summed."""
    assert checksum([r'#KONTO 1915 "Kassa \"special\""']) == _spec_crc32(b'#KONTO1915Kassa "special"')
    assert checksum(['#VER "" "" 20180315 "Lön"', "{", '#TRANS 7010 {1 "4110"} 10.00', "}"]) == _spec_crc32(
        "#VER20180315Lön#TRANS701014110".encode("cp437") + b"10.00")


KS_BODY = ["#PROGRAM \"Ett program\" 1.0", "#FORMAT PC8", "#SIETYP 4", "#RAR 0 20180101 20181231",
           '#KONTO 7010 "Lön till tjänstemän"', *LON]  # fmt: skip


@pytest.mark.parametrize("encoding", ["cp437", "utf-8", "latin-1"])
def test_correct_ksumma_is_accepted(encoding):
    """A file whose closing #KSUMMA is the CRC-32 of its records reads, in every encoding."""
    crc = checksum(KS_BODY)
    recs = read("#FLAGGA 0", "#KSUMMA", *KS_BODY, f"#KSUMMA {crc}", encoding=encoding, read_as=encoding)
    assert len(vouchers(recs)) == 1
    assert read("#KSUMMA", *KS_BODY, f"#KSUMMA {crc - 2**32}")  # written as a signed number


def test_whitespace_and_quoting_do_not_change_the_checksum():
    """Other spacing, tabs, quotes around plain fields and CRLF/LF give the same checksum."""
    crc = checksum(KS_BODY)
    outside_quotes = r' (?=(?:[^"]*"[^"]*")*[^"]*$)'  # a space followed by an even number of quotes
    respaced = [re.sub(outside_quotes, " \t ", line) for line in KS_BODY]
    assert respaced[0] == '#PROGRAM \t "Ett program" \t 1.0'
    requoted = [line.replace("7010", '"7010"') for line in respaced]
    assert read("#KSUMMA", *requoted, f"#KSUMMA {crc}", eol="\n")


def test_utf8_file_summed_over_its_own_bytes_is_accepted():
    """A UTF-8 file whose writer summed UTF-8 bytes instead of cp437 values is accepted too."""
    text = "#KONTO7010Lön till tjänstemän".encode()
    recs = read("#KSUMMA", '#KONTO 7010 "Lön till tjänstemän"', f"#KSUMMA {zlib.crc32(text)}", encoding="utf-8")
    assert recs == [Account("7010", "Lön till tjänstemän", 2)]


def test_wrong_ksumma_is_malformed_naming_its_line():
    """One changed figure makes the checksum differ: Malformed naming the closing #KSUMMA."""
    crc = checksum(KS_BODY)
    changed = [line.replace("1000.00", "1000.10") for line in KS_BODY]
    malformed(rf"^line 13: #KSUMMA {crc} does not match the checksum \d+ of lines 3-12",
              "#FLAGGA 0", "#KSUMMA", *changed, f"#KSUMMA {crc}")


@pytest.mark.parametrize("lines, message", [
    (["#KSUMMA", *KS_BODY], r"^line 1: #KSUMMA opens a checksum but the file has no closing #KSUMMA"),
    ([*KS_BODY, "#KSUMMA 123"], r"^line 11: #KSUMMA with a value but no opening #KSUMMA$"),
    (["#KSUMMA", "#KSUMMA x"], r"^line 2: #KSUMMA 'x' is not a decimal checksum$"),
])  # fmt: skip
def test_cut_or_odd_ksumma_is_malformed(lines, message):
    """An opening #KSUMMA without a closing one means a cut file; a lone closing one is refused."""
    malformed(message, *lines)


def test_the_checksum_is_checked_after_the_records_are_yielded():
    """The reader yields every voucher before it can tell that the #KSUMMA is wrong."""
    got = []
    with pytest.raises(Malformed, match="does not match"):
        for record in read_sie(sie("#KSUMMA", *KS_BODY, "#KSUMMA 1")):
            got.append(record)
    assert len(vouchers(got)) == 1


# --------------------------------------------------------------------------- streaming


def test_reading_is_lazy():
    """Vouchers before a line that cannot be read are yielded before that line is even read."""

    def lines():
        yield from sie(*HEAD)
        for n in range(1, 4):
            yield from sie(f'#VER A {n} 20180315 "x"', "{", "#TRANS 7010 {} 1", "#TRANS 1930 {} -1", "}")
        raise RuntimeError("the reader asked for more than it needed")

    records = read_sie(lines())
    got = [next(records) for _ in range(4)]  # the year and three vouchers
    assert [v.vernr for v in vouchers(got)] == ["1", "2", "3"]
    with pytest.raises(RuntimeError):
        next(records)


# --------------------------------------------------------------------------- round trip

# A text may not end in a backslash: SIE has no way to write one before the closing quote.
_texts = st.text(alphabet=st.sampled_from('abcåäöÅÄÖ éü"\\-.,:1234'), max_size=12).filter(lambda t: not t.endswith("\\"))
_row = st.tuples(
    st.sampled_from(["7010", "1930", "4110", "9902"]),
    st.lists(st.tuples(st.integers(1, 30), st.text(alphabet="AB 09åö-", min_size=1, max_size=5)), max_size=3),
    st.integers(-10**9, 10**9),
    st.none() | st.dates(D(2000, 1, 1), D(2099, 12, 31)),
    st.none() | _texts.filter(bool),
)


def _quote(text: str) -> str:
    return '"' + text.replace('"', '\\"') + '"'


def _write(vouchers_: list, encoding: str) -> list[bytes]:
    """Vouchers as the lines of an SIE file (with #KSUMMA), the way a writer would do it."""
    lines = ["#FORMAT PC8", "#SIETYP 4"]
    for n, (date, text, rows) in enumerate(vouchers_, 1):
        lines += [f"#VER A {n} {date:%Y%m%d} {_quote(text)}", "{"]
        for account, objects, ore, transdat, transtext in rows:
            objs = " ".join(f'{d} {_quote(o)}' for d, o in objects)
            lines.append(f"#TRANS {account} {{{objs}}} {Amount(ore).plain()} "
                         f"{_quote(f'{transdat:%Y%m%d}' if transdat else '')} {_quote(transtext or '')}")
        lines.append("}")
    return sie("#FLAGGA 0", "#KSUMMA", *lines, f"#KSUMMA {checksum(lines)}", encoding=encoding)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.dates(D(2000, 1, 1), D(2099, 12, 31)), _texts, st.lists(_row, min_size=1, max_size=4)),
             min_size=1, max_size=4),
    st.sampled_from(["cp437", "utf-8", "latin-1"]),
)  # fmt: skip
def test_written_vouchers_read_back_to_the_same_values(generated, encoding):
    """Generated vouchers written as SIE text in any encoding read back to the same values."""
    balanced = []
    for date, text, rows in generated:
        rest = -sum(r[2] for r in rows)
        balanced.append((date, text, [*rows, ("1930", [], rest, None, None)]))
    records = list(read_sie(_write(balanced, encoding), encoding=encoding))
    assert len(records) == len(balanced)
    for (date, text, rows), v in zip(balanced, records):
        assert (v.date, v.text) == (date, text)
        got = [(r.account, list(r.objects), r.amount.ore, r.transdat, r.text, r.place) for r in v.rows]
        assert got == [(a, o, ore, t, tt, k) for k, (a, o, ore, t, tt) in enumerate(rows, 1)]
