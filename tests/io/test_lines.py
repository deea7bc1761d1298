from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from auditlab.io.lines import split_lines


def test_crlf_blank_and_last_line_without_newline():
    t = split_lines(b"a\r\nb\n\r\n\nc", first_line=5)
    assert t.column("source_line").to_pylist() == [5, 6, 7, 8, 9]
    assert t.column("text").to_pylist() == ["a", "b", "", "", "c"]


def test_invalid_utf8_lines_are_null_with_escaped_text():
    t = split_lines("ok\nbad \xff here\nfine é\n\xc3\n".encode("latin-1").replace(b"\xe9", "é".encode()))
    assert t.column("text").to_pylist() == ["ok", None, "fine é", None]
    assert t.column("invalid").to_pylist() == [None, "bad \\xff here", None, "\\xc3"]


def test_empty_chunk():
    assert split_lines(b"").num_rows == 0


@given(
    st.lists(
        st.text(
            alphabet=st.characters(blacklist_characters="\n\r", blacklist_categories=("Cs",)), max_size=20
        ),
        max_size=30,
    )
)
def test_lines_round_trip(lines):
    data = "\n".join(lines).encode()
    t = split_lines(data)
    expected = lines if data else []
    if data and not lines[-1]:
        expected = lines[:-1]  # a trailing "\n" ends the last line; it does not start a new one
    assert t.column("text").to_pylist() == expected
