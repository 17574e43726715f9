"""SSE decoder: framing, splitting at any byte, comments, multi-line data, flush."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from holysheep_relay.sse import ServerSentEvent, SSEDecoder, iter_sse


def decode(*chunks: bytes) -> list[ServerSentEvent]:
    return list(iter_sse(chunks))


def test_lf_and_crlf_and_cr_framing_give_the_same_events() -> None:
    lf = b'data: {"a": 1}\n\ndata: [DONE]\n\n'
    crlf = lf.replace(b"\n", b"\r\n")
    cr = lf.replace(b"\n", b"\r")
    expected = [ServerSentEvent('{"a": 1}'), ServerSentEvent("[DONE]")]
    assert decode(lf) == decode(crlf) == decode(cr) == expected


def test_crlf_split_between_reads_is_one_line_end() -> None:
    events = decode(b"data: one\r", b"\n\r", b"\ndata: two\r\n\r\n")
    assert [e.data for e in events] == ["one", "two"]


def test_multi_line_data_is_joined_with_newline() -> None:
    events = decode(b'data: {"a":\ndata: 1}\n\n')
    assert events == [ServerSentEvent('{"a":\n1}')]


def test_comments_are_keepalives_and_produce_nothing() -> None:
    events = decode(b": keep-alive\n\n: PING\ndata: x\n\n:\n\n")
    assert [e.data for e in events] == ["x"]


def test_event_id_retry_fields_and_space_handling() -> None:
    events = decode(b"event: error\nid: 7\nretry: 100\ndata:no-space\n\n")
    assert events == [ServerSentEvent("no-space", event="error", id="7", retry=100)]


def test_event_type_resets_after_dispatch() -> None:
    events = decode(b"event: error\ndata: a\n\ndata: b\n\n")
    assert [(e.event, e.data) for e in events] == [("error", "a"), ("message", "b")]


def test_utf8_character_split_across_reads() -> None:
    raw = "data: héllo 世界 🐑\n\n".encode()
    for cut in range(1, len(raw)):
        assert decode(raw[:cut], raw[cut:]) == [ServerSentEvent("héllo 世界 🐑")]


def test_unterminated_last_event_is_delivered_on_flush() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: tail") == []
    assert decoder.flush() == [ServerSentEvent("tail")]


def test_empty_data_lines_without_payload_do_not_dispatch() -> None:
    assert decode(b"event: ping\n\n") == []


_FRAME = st.builds(
    lambda data, event, sep: (
        (f"event: {event}{sep}" if event else "")
        + "".join(f"data: {line}{sep}" for line in data.split("\n"))
        + sep
    ),
    st.text(
        alphabet=st.characters(blacklist_characters="\r\n\x00", blacklist_categories=("Cs",)),
        max_size=30,
    ).map(lambda s: s.replace("\\n", "\n")),
    st.sampled_from(["", "error", "message"]),
    st.sampled_from(["\n", "\r\n", "\r"]),
)


@settings(max_examples=200, deadline=None)
@given(
    frames=st.lists(_FRAME, min_size=1, max_size=6),
    comments=st.booleans(),
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=12),
)
def test_any_rechunking_yields_the_same_events(
    frames: list[str], comments: bool, cuts: list[int]
) -> None:
    text = (": ping\n" if comments else "").join(frames)
    raw = text.encode("utf-8")
    reference = decode(raw)
    points = sorted({c % (len(raw) + 1) for c in cuts})
    pieces = [raw[a:b] for a, b in zip([0, *points], [*points, len(raw)], strict=True)]
    assert decode(*pieces) == reference
    # byte by byte too
    assert decode(*[raw[i : i + 1] for i in range(len(raw))]) == reference
