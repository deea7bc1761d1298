"""Read CEF lines in bulk: each line becomes one JSON object text, or an error.

The whole batch goes through Polars expressions; no Python loop touches a line. There are two
paths that give the same text for every line (``tests/io/test_cef_read_paths.py``).

**General path** (every line can take it):

1. One regex finds the optional prefix (syslog header), ``CEF:<version>|`` and the six other
   ``|``-terminated header fields (the escapes ``\\|`` and ``\\\\`` are stepped over).
2. The extension (the rest) gets a sentinel before and after every key: a key is a run of
   ``[A-Za-z0-9_.,[]-]`` at the start or after one space or tab, followed by an unescaped ``=``.
   Sentinels are code points absent from the batch, so input can never forge one.
3. A value that still holds an unescaped ``=`` (other than a trailing run, as in base64
   padding) makes the line malformed; so does text before the first key.
4. ONE left-to-right pass (``str.replace_many``, leftmost-first) turns the marked extension into
   JSON members ``,"key":"value",...``: ``\\\\`` ``\\=`` ``\\n`` ``\\r`` are CEF escapes, any other
   backslash is a literal backslash, quotes and control characters get JSON escapes. So ``\\\\n``
   (an escaped backslash, then ``n``) stays the two characters ``\\n``: no chained replaces.
5. Custom fields are resolved by label (``cs3Label=resourceType cs3=project`` gives
   ``"resourceType":"project"``). Lines are grouped by their *custom-field signature* (the exact
   custom keys and label pairs they hold, usually one per batch) and each group is rewritten by
   one literal multi-replace. Rare lines (many signatures, a label equal to another key) take a
   general exploded path with the same rules (:func:`_resolve_exploded`).

**Fast path** (the lines of a batch that fit its vocabulary, normally all of them):

- a header without backslashes is cut by a literal ``|`` split instead of the regex;
- the general path reads a sample of the batch to learn its keys and labels; then ONE literal
  multi-replace per line marks the known keys, drops the label pairs, renames the values to
  their labels, decodes and JSON-escapes (the decoding table of step 4), and literal scans check
  that the line fits (no unknown key, no other label, no bad ``=``). Lines that do not fit are
  learnt from in a further round, then left to the general path.

A key given twice keeps its FIRST value (as DuckDB's JSON functions read it); the record text
may hold both. See ``docs/cef.md`` for the decisions on disputed inputs.

Examples:
    >>> import pyarrow as pa
    >>> t = pa.table({"source_line": [1, 2], "text": [
    ...     r"CEF:0|RL|Portal|1.0|user.login|User login|3|suser=a@b.c cs1Label=resourceType cs1=user",
    ...     "not cef"]})
    >>> out = parse_cef(t)
    >>> out.column("record")[0].as_py()
    '{"cef_version":"0","device_vendor":"RL","device_product":"Portal","device_version":"1.0","signature_id":"user.login","name":"User login","severity":"3","suser":"a@b.c","resourceType":"user"}'
    >>> out.column("error")[1].as_py()
    "no CEF header ('CEF:<version>|' not found)"
    >>> parse_cef_raw([r"CEF:0|a|b|c|d|e|f|msg=x\\=y z\\\\n"])[0]["extensions"]
    {'msg': 'x=y z\\\\n'}
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl
    import pyarrow as pa

__all__ = ["HEADER_KEYS", "RESERVED_KEYS", "SLOT_FAMILIES", "parse_cef", "parse_cef_raw"]

#: The record keys of the seven header fields, in order.
HEADER_KEYS: tuple[str, ...] = (
    "cef_version",
    "device_vendor",
    "device_product",
    "device_version",
    "signature_id",
    "name",
    "severity",
)

#: Record keys the reader sets itself; an extension key equal to one is kept as ``cef_ext_<key>``.
RESERVED_KEYS: tuple[str, ...] = (*HEADER_KEYS, "syslog_timestamp", "syslog_host")

#: Custom-field families (lower case, long and short ArcSight names) -> the slot family they fill.
SLOT_FAMILIES: dict[str, str] = {
    "cs": "cs",
    "devicecustomstring": "cs",
    "cn": "cn",
    "devicecustomnumber": "cn",
    "cfp": "cfp",
    "devicecustomfloatingpoint": "cfp",
    "c6a": "c6a",
    "devicecustomipv6address": "c6a",
    "devicecustomdate": "devicecustomdate",
    "flexstring": "flexstring",
    "flexnumber": "flexnumber",
    "flexdate": "flexdate",
    "flextimestamp": "flexdate",
}

_FIELD = r"(?:[^\\|]|\\.)*"
_HEADER_RE = (
    r"(?s)^(?P<head>(?P<prefix>.*?)CEF:(?P<ver>\d+)\|"
    + "".join(rf"(?P<h{i}>{_FIELD})\|" for i in range(1, 6))
    + rf"(?P<h6>{_FIELD})(?P<end>\||$))"
)
_KEY_RE = r"(^|[ \t])([A-Za-z0-9_.,\[\]\-]+)="
_FAMILIES_RE = "|".join(sorted(SLOT_FAMILIES, key=len, reverse=True))
_SLOT_PY = re.compile(rf"(?i)^({_FAMILIES_RE})(\d+)(label)?$")
# a custom key inside JSON members text: ,"cs1":" (value) or ,"cs1Label":"<content>" (label pair)
_CUSTOM_RE = rf',"(?i:{_FAMILIES_RE})\d+(?:(?i:label)":"(?:[^"\\]|\\.)*"|":")'

# Syslog prefixes, tried in order: regexes with groups ts and host. ``<PRI>`` may be followed by a
# space; a tag is ``app``, ``app[pid]``, either with a colon, a space before the colon, or none.
_PRI = r"(?:<\d{1,3}> ?)"
_TAG = r"(?: [^\s:\[\]]+(?:\[[^\]\s]*\])? ?:?)"
_HOST = r"[^\s\[\]]*[^\s:\[\]]"  # a host may hold a colon (IPv6, host-CEF:1-box), not end with one
_PREFIX_RES: tuple[str, ...] = (
    # RFC 5424: <PRI>VERSION TIMESTAMP HOSTNAME [APP-NAME [PROCID [MSGID [STRUCTURED-DATA]]]],
    # each of them possibly the nil value "-"
    rf"^{_PRI}\d{{1,2}} (?P<ts>\S+) (?P<host>\S+)(?: (?:\[.*\]|\S+)){{0,4}}\s*$",
    # RFC 3164, also with year, fraction and zone as ArcSight writes: [<PRI>]MMM dd hh:mm:ss [HOST] [TAG]
    rf"^{_PRI}?(?P<ts>[A-Z][a-z]{{2}} {{1,2}}\d{{1,2}}(?: \d{{4}})? \d{{2}}:\d{{2}}:\d{{2}}(?:\.\d{{1,9}})?"
    rf"(?: (?:UTC|GMT|Z|[A-Z]{{2}}[SD]T))?)(?: (?P<host>{_HOST}))?{_TAG}?\s*$",
    # a bare ISO 8601 date-time, optional host and tag
    rf"^{_PRI}?(?P<ts>\d{{4}}-\d{{2}}-\d{{2}}[T ]\d{{2}}:\d{{2}}:\d{{2}}(?:[.,]\d+)?(?:Z|[+-]\d{{2}}:?\d{{2}})?)"
    rf"(?: (?P<host>{_HOST}))?{_TAG}?\s*$",
    # epoch seconds or milliseconds, host (ArcSight connectors)
    r"^(?P<ts>\d{10}|\d{13})(?: (?P<host>\S+))?\s*$",
)

#: At most this many custom-field signatures per batch take the fast path.
_MAX_SIGNATURES = 64

_SENTINELS = ("\ue000", "\ue001", "\ue002", "\U0010fffd", "\U0010fffc", "\U0010fffb", "\x00", "\x01", "\x02")


def _json_table(pairs: dict[str, str], *, keep: tuple[str, ...] = ()) -> tuple[list[str], list[str]]:
    """Patterns and replacements: ``pairs`` first, then JSON escapes of quote and control chars."""
    table = dict(pairs)
    table.setdefault('"', '\\"')
    short = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}
    for code in range(0x20):
        ch = chr(code)
        if ch not in keep:
            table.setdefault(ch, short.get(ch, f"\\u{code:04x}"))
    return list(table), list(table.values())


# CEF extension escapes -> JSON string content. Two-character escapes come before the lone
# backslash so that leftmost-first matching prefers them.
_VALUE_ESCAPES = {
    "\\\\": "\\\\",
    "\\=": "=",
    "\\n": "\\n",
    "\\r": "\\r",
    "\\\n": "\\n",  # backslash + a real LF: the LF (as Elasticsearch reads it)
    "\\\r": "\\r",
    "\\": "\\\\",  # any other backslash is a literal backslash
}
# CEF header field -> JSON string content, in one pass.
_HEADER_MAP = _json_table({"\\\\": "\\\\", "\\|": "|", "\\": "\\\\"})
# CEF header field -> its value (one pass); any other backslash stays.
_HEADER_DECODE = (["\\\\", "\\|"], ["\\", "|"])
# a value -> JSON string content
_JSON_MAP = _json_table({"\\": "\\\\"})


def _free_code_points(text: pl.Series, n: int) -> list[str]:
    """``n`` code points that occur nowhere in ``text``."""
    found: list[str] = []
    candidates = [*_SENTINELS, *(chr(c) for c in range(0xF0000, 0xF0400))]
    for s in candidates:
        if not text.str.contains(s, literal=True).any():
            found.append(s)
            if len(found) == n:
                return found
    raise RuntimeError("no free sentinel code point")  # pragma: no cover - needs ~1000 rare code points


def _jstr(expr: pl.Expr, table: tuple[list[str], list[str]]) -> pl.Expr:
    import polars as pl

    return pl.lit('"') + expr.str.replace_many(table[0], table[1], leftmost=True) + pl.lit('"')


def _header_frame(batch: pl.DataFrame, *, split: bool = True) -> pl.DataFrame:
    """One batch (``text``) -> ``row``, ``text`` (trimmed), ``_null``, ``hdr`` (a header was found),
    its ``prefix``, ``ver``, ``h1``..``h6`` (decoded), ``end`` (``|`` or ``""``) and ``rest`` (the
    text after the header).

    A line whose first seven ``|`` hold no backslash before them is cut by a literal split
    (its header is then exactly what the header regex finds); the other lines take the regex
    (all of them when ``split`` is false).
    """
    import polars as pl

    text = batch.get_column("text")
    if any(text.str.ends_with(c).any() for c in " \t\r\n"):  # the strip copies every line
        text = text.str.strip_chars_end(" \t\r\n")
    df = pl.DataFrame({"text": text}).select(
        pl.int_range(pl.len(), dtype=pl.Int64).alias("row"),
        "text",
        pl.col("text").is_null().alias("_null"),
    )
    parts = df.select("row", "text", "_null", pl.col("text").str.splitn("|", 8).alias("f")).unnest("f")
    parts = parts.with_columns(
        pl.col("field_0").str.extract_groups(r"(?s)^(?P<prefix>.*?)CEF:(?P<ver>\d+)$").alias("m")
    )
    cut = pl.col("field_7").is_not_null() & pl.col("m").struct.field("ver").is_not_null() & split
    for i in range(7):
        cut = cut & ~pl.col(f"field_{i}").str.contains("\\", literal=True)
    parts = parts.with_columns(cut.alias("_split"))
    every = bool(parts.get_column("_split").all())
    fast = (parts if every else parts.filter(pl.col("_split"))).select(
        "row",
        "text",
        "_null",
        pl.lit(True).alias("hdr"),
        pl.col("m").struct.field("prefix"),
        pl.col("m").struct.field("ver"),
        *[pl.col(f"field_{i}").alias(f"h{i}") for i in range(1, 7)],
        pl.lit("|").alias("end"),
        pl.col("field_7").alias("rest"),
    )
    if every:
        return fast
    slow = (
        parts.filter(~pl.col("_split"))
        .select("row", "text", "_null", pl.col("text").str.extract_groups(_HEADER_RE).alias("m"))
        .unnest("m")
        .select(
            "row",
            "text",
            "_null",
            pl.col("head").is_not_null().alias("hdr"),
            "prefix",
            "ver",
            *[pl.col(f"h{i}").str.replace_many(*_HEADER_DECODE, leftmost=True) for i in range(1, 7)],
            "end",
            pl.col("text").str.slice(pl.col("head").str.len_chars()).alias("rest"),
        )
    )
    return pl.concat([fast, slow]).sort("row")


def _ext_expr() -> pl.Expr:
    """The extension: the text after the header, leading spaces and tabs skipped."""
    import polars as pl

    return pl.col("rest").str.strip_chars_start(" \t")


def _extension(df: pl.DataFrame, *, rename_reserved: bool) -> pl.DataFrame:
    """Add ``error`` and ``members`` (``,"key":"value"...`` in input order) to a header frame.

    The general path: a key-marking regex, then one decoding pass. ``rename_reserved``: an
    extension key equal to a reserved record key becomes ``cef_ext_<key>``.
    """
    import polars as pl

    s_pair, s_key = _free_code_points(df.get_column("text"), 2)
    df = df.with_columns(
        pl.when(pl.col("hdr"))
        .then(_ext_expr().str.replace_all(_KEY_RE, s_pair + "${2}" + s_key))
        .alias("ext")
    )
    bad_equals = rf"(?:^|[^\\])(?:\\\\)*=+[^={s_pair}]"
    error = (
        pl.when(pl.col("_null"))
        .then(pl.lit("line is not valid UTF-8 text"))
        .when(pl.col("text") == "")
        .then(pl.lit("empty line"))
        .when(~pl.col("hdr") & pl.col("text").str.contains(r"CEF:\d+\|"))
        .then(pl.lit("incomplete CEF header (fewer than 7 '|'-separated fields)"))
        .when(~pl.col("hdr"))
        .then(pl.lit("no CEF header ('CEF:<version>|' not found)"))
        .when((pl.col("end") == "") & (pl.col("h6") == ""))
        .then(pl.lit("incomplete CEF header (no severity)"))
        .when((pl.col("ext") != "") & ~pl.col("ext").str.starts_with(s_pair))
        .then(pl.lit("extension text without a key"))
        .when(pl.col("ext").str.contains(bad_equals))
        .then(pl.lit("unescaped '='"))
    )
    df = df.with_columns(error.alias("error"))
    # name the key whose value holds the bad '=' (few rows: explode them only)
    bad = (
        df.filter(pl.col("error") == "unescaped '='")
        .select("row", pl.col("ext").str.split(s_pair).list.slice(1).alias("pair"))
        .explode("pair")
        .filter(pl.col("pair").str.contains(bad_equals))
        .group_by("row", maintain_order=True)
        .agg(pl.col("pair").first().str.split(s_key).list.first().alias("_key"))
    )
    if bad.height:
        df = (
            df.join(bad, on="row", how="left", maintain_order="left")
            .with_columns(
                pl.when(pl.col("_key").is_not_null())
                .then(pl.lit("unescaped '=' in the value of '") + pl.col("_key") + pl.lit("'"))
                .otherwise(pl.col("error"))
                .alias("error")
            )
            .drop("_key")
        )
    # extension -> JSON members in one pass; keys equal to reserved record keys are renamed
    escapes = dict(_VALUE_ESCAPES)
    if rename_reserved:
        escapes.update({f"{s_pair}{k}{s_key}": f'","cef_ext_{k}":"' for k in RESERVED_KEYS})
    escapes.update({s_pair: '","', s_key: '":"'})
    table = _json_table(escapes, keep=(s_pair, s_key))
    members = (
        pl.when(pl.col("ext") == "")
        .then(pl.lit(""))
        .otherwise(
            pl.col("ext").str.replace_many(table[0], table[1], leftmost=True).str.slice(1) + pl.lit('"')
        )
    )
    return df.with_columns(pl.when(pl.col("error").is_null()).then(members).alias("members"))


def _head_columns(df: pl.DataFrame, *, encode: bool = True) -> pl.DataFrame:
    """``row``, ``error``, header fields (JSON literals, or values when not ``encode``),
    ``prefix``, syslog fields, ``members``."""
    import polars as pl

    syslog = [pl.col("prefix").str.extract_groups(rx).alias(f"_p{i}") for i, rx in enumerate(_PREFIX_RES)]
    df = df.with_columns(*syslog)
    ts = pl.coalesce([pl.col(f"_p{i}").struct.field("ts") for i in range(len(_PREFIX_RES))])
    host = pl.coalesce(
        [
            pl.when(pl.col(f"_p{i}").struct.field("ts").is_not_null()).then(
                pl.col(f"_p{i}").struct.field("host").replace("-", None)
            )
            for i in range(len(_PREFIX_RES))
        ]
    )
    return df.select(
        "row",
        "error",
        pl.col("ver").alias("cef_version"),
        *[
            (_jstr(pl.col(f"h{i}"), _JSON_MAP) if encode else pl.col(f"h{i}")).alias(k)
            for i, k in enumerate(HEADER_KEYS[1:], 1)
        ],
        "prefix",
        pl.when(ts != "-").then(ts).alias("syslog_timestamp"),
        host.alias("syslog_host"),
        "members",
    )


def _split(batch: pl.DataFrame, *, rename_reserved: bool = True) -> pl.DataFrame:
    """One batch (``text``) -> ``row``, header fields (JSON literals), ``prefix``, syslog fields,
    ``members`` (``,"key":"value"...`` in input order, no label resolution) and ``error``.

    The general path for every line. ``rename_reserved``: an extension key equal to a reserved
    record key becomes ``cef_ext_<key>``.
    """
    return _head_columns(_extension(_header_frame(batch), rename_reserved=rename_reserved))


# ---------------------------------------------------------------------------------------------
# Label resolution. The rules (both paths):
#   * a slot is a custom-field family + number (cs3, deviceCustomString3 and CS3 are one slot);
#   * its label is the first non-empty label pair of the slot (``cs3Label``, any case of Label);
#   * it resolves when it has a label and a value, and the label is not a reserved record key,
#     not any key present in the line, and not the label of another resolving slot;
#   * then every value of the slot is renamed to the label and every label pair of it dropped.


def _slot(key: str) -> tuple[str, bool] | None:
    """``("cs3", is_label)`` for a custom-field key, else None."""
    m = _SLOT_PY.match(key)
    if m is None:
        return None
    return SLOT_FAMILIES[m.group(1).lower()] + m.group(2), m.group(3) is not None


def _plan(items: list[tuple[str, str | None]], keys: set[str]) -> dict[str, str]:
    """Which slots resolve to which label, for one line's custom items (key, label content or None).

    ``keys`` are the other keys of the line (JSON content form).
    """
    labels: dict[str, str] = {}
    valued: set[str] = set()
    for key, content in items:
        slot = _slot(key)
        if slot is None:
            continue
        if slot[1]:
            if content and slot[0] not in labels:
                labels[slot[0]] = content
        else:
            valued.add(slot[0])
    chosen = {s: lab for s, lab in labels.items() if s in valued}
    counts: dict[str, int] = {}
    for lab in chosen.values():
        counts[lab] = counts.get(lab, 0) + 1
    all_keys = keys | {k for k, _ in items}
    return {
        s: lab
        for s, lab in chosen.items()
        if counts[lab] == 1 and lab not in RESERVED_KEYS and lab not in all_keys
    }


def _signature_items(sig: str) -> list[tuple[str, str | None]]:
    """Parse a signature: LF-joined items ``,"k":"`` (a value) or ``,"kLabel":"content"`` (a label)."""
    out: list[tuple[str, str | None]] = []
    for item in sig.split("\n"):
        key, _, rest = item[2:].partition('":')
        out.append((key, rest[1:-1] if rest != '"' else None))
    return out


def _resolve(members: pl.Series) -> pl.Series:
    """Resolve custom-field labels in JSON members texts (see the rules above)."""
    import polars as pl

    has_custom = members.str.contains(_CUSTOM_RE).fill_null(False)
    if not has_custom.any():
        return members
    idx = has_custom.arg_true()
    sub = members.gather(idx)
    sigs = sub.str.extract_all(_CUSTOM_RE).list.join("\n")  # LF never occurs in JSON members
    counts = sigs.value_counts(sort=True)
    fast = counts.head(_MAX_SIGNATURES).get_column(sigs.name).to_list()
    out = members.clone()
    slow_positions: list[pl.Series] = []
    done = pl.select(pl.repeat(False, len(sub))).to_series()
    for sig in fast:
        items = _signature_items(sig)
        plan = _plan(items, set())
        in_group = sigs == sig
        done = done | in_group
        if not plan:
            continue
        pos = in_group.arg_true()
        texts = sub.gather(pos)
        # a label equal to another key of the line: leave that line to the general path
        collide = pl.select(pl.repeat(False, len(texts))).to_series()
        for label in plan.values():
            collide = collide | texts.str.contains(f',"{label}":', literal=True)
        if collide.any():
            slow_positions.append(pos.filter(collide))
            pos, texts = pos.filter(~collide), texts.filter(~collide)
        patterns: list[str] = []
        repl: list[str] = []
        for key, content in items:
            slot = _slot(key)
            if slot is None or slot[0] not in plan:
                continue
            if slot[1]:
                patterns.append(f',"{key}":"{content}"')
                repl.append("")
            else:
                patterns.append(f',"{key}":"')
                repl.append(f',"{plan[slot[0]]}":"')
        # label pairs are listed whole, so a longer pattern never loses to a shorter one
        order = sorted(range(len(patterns)), key=lambda i: -len(patterns[i]))
        new = texts.str.replace_many([patterns[i] for i in order], [repl[i] for i in order], leftmost=True)
        out = out.scatter(idx.gather(pos), new)
    rest = (~done).arg_true()
    slow = pl.concat([rest, *slow_positions]) if slow_positions else rest
    if len(slow):
        where = idx.gather(slow)
        out = out.scatter(where, _resolve_exploded(members.gather(where)))
    return out


def _resolve_exploded(members: pl.Series) -> pl.Series:
    """The general path: explode each line into its pairs, resolve with joins, join back."""
    import polars as pl

    df = pl.DataFrame({"row": pl.int_range(len(members), eager=True, dtype=pl.Int64), "m": members})
    pairs = (
        df.select("row", pl.col("m").str.slice(2).str.strip_suffix('"').str.split('","').alias("pair"))
        .explode("pair")
        .filter(pl.col("pair") != "")
        .with_row_index("pos")
    )
    pairs = pairs.with_columns(pl.col("pair").str.split('":"').list.first().alias("key"))
    keys = pairs.get_column("key").unique().to_list()
    info = {k: s for k in keys if (s := _slot(k)) is not None}
    pairs = pairs.with_columns(
        pl.col("key")
        .replace_strict({k: s[0] for k, s in info.items()}, default=None, return_dtype=pl.String)
        .alias("slot"),
        pl.col("key")
        .replace_strict({k: s[1] for k, s in info.items()}, default=False, return_dtype=pl.Boolean)
        .alias("is_label"),
        pl.col("pair").str.split('":"').list.slice(1).list.join('":"').alias("content"),
    )
    labels = (
        pairs.filter(pl.col("is_label") & (pl.col("content") != ""))
        .group_by(["row", "slot"], maintain_order=True)
        .agg(pl.col("content").first().alias("label"))
    )
    valued = pairs.filter(pl.col("slot").is_not_null() & ~pl.col("is_label")).select("row", "slot").unique()
    cand = labels.join(valued, on=["row", "slot"], how="inner")
    cand = cand.filter(
        ~pl.col("label").is_in(list(RESERVED_KEYS)) & (pl.len().over(["row", "label"]) == 1)
    ).join(pairs.select("row", pl.col("key").alias("label")).unique(), on=["row", "label"], how="anti")
    pairs = pairs.join(cand, on=["row", "slot"], how="left", maintain_order="left")
    kept = pairs.filter(~(pl.col("is_label") & pl.col("label").is_not_null())).with_columns(
        pl.when(pl.col("label").is_not_null())
        .then(pl.col("label") + pl.lit('":"') + pl.col("content"))
        .otherwise(pl.col("pair"))
        .alias("pair")
    )
    joined = (
        kept.sort("pos")
        .group_by("row", maintain_order=True)
        .agg((pl.lit(',"') + pl.col("pair") + pl.lit('"')).str.join("").alias("m"))
    )
    return df.select("row").join(joined, on="row", how="left").sort("row").get_column("m").fill_null("")


# ---------------------------------------------------------------------------------------------


# The vocabulary path. The lines of one batch nearly always share their keys and labels. A
# sample read by the general path gives them; then ONE literal multi-replace per line marks the
# known keys, resolves the planned labels, decodes the values and JSON-escapes them (`` k=`` and
# ``\tk=`` are patterns listed before the escapes, so leftmost-first matching finds a key where
# the key regex would). Literal scans then check each line against the plan; a line that does not
# fit it (an unknown key, another label, a bad '=') is left to the general path, so both paths
# give the same text for every line (tests compare them).
#
# Two code points absent from the batch serve as markers. E replaces every unescaped '=' that does
# not end a known key: allowed only as a trailing run of a value (base64 padding), as in the
# general path. X starts ``X L<i>_``, which replaces a whole label pair `` csNLabel=<label>`` of
# planned slot i (the pair is dropped, so the next pair or the end must follow), and ``X !``, which
# replaces a key the plan cannot handle. Values of planned slot i are written under the label
# directly. Any X left at the end sends the line to the general path.

_KEY_CHARS = r"[A-Za-z0-9_.,\[\]\-]"
#: Lines of a batch read by the general path to learn its keys and labels.
_SAMPLE_ROWS = 256
#: Vocabulary rounds (each learns from a sample of the lines still unread) before the general path.
_MAX_ROUNDS = 3


def _spread(n: int) -> list[int]:
    """Up to :data:`_SAMPLE_ROWS` positions in ``range(n)``, the first one 0, spread by the golden
    ratio: a fixed stride would see only every other line of a file that alternates layouts.

    Examples:
        >>> len(_spread(100)), len(_spread(10**6)), sorted({p % 2 for p in _spread(60_000)})
        (100, 256, [0, 1])
    """
    if n <= _SAMPLE_ROWS:
        return list(range(n))
    golden = (5**0.5 - 1) / 2
    return sorted({int((i * golden) % 1 * n) for i in range(_SAMPLE_ROWS)})


def _rx(ch: str) -> str:
    """A code point as a regex escape."""
    return f"\\x{{{ord(ch):x}}}"


def _learn(members: pl.Series, keys: set[str], contents: dict[str, set[str]]) -> bool:
    """Add the keys and non-empty label contents of raw-layer members texts; True if any is new."""
    import polars as pl

    pairs = (
        pl.DataFrame({"m": members.drop_nulls()})
        .select(pl.col("m").str.slice(2).str.strip_suffix('"').str.split('","').alias("p"))
        .explode("p")
        .filter(pl.col("p") != "")
        .select(pl.col("p").str.splitn('":"', 2).struct.rename_fields(["k", "c"]).alias("s"))
        .unnest("s")
    )
    found = set(pairs.get_column("k").unique().to_list())
    label_keys = [k for k in found if (slot := _slot(k)) is not None and slot[1]]
    labelled = (
        pairs.filter(pl.col("k").is_in(label_keys) & (pl.col("c") != "")).unique().rows()
        if label_keys
        else []
    )
    new = not found <= keys
    keys |= found
    for k, c in labelled:
        slot = _slot(k)
        assert slot is not None
        if c not in contents.setdefault(slot[0], set()):
            contents[slot[0]].add(c)
            new = True
    return new


def _vocabulary_plan(keys: set[str], contents: dict[str, set[str]]) -> tuple[dict[str, str], set[str]]:
    """(slot -> label) for the slots resolved by plan, and the slots that block the fast path.

    A slot with both value and label keys in the vocabulary is planned when the sample shows one
    label for it, written without escapes, that can never be refused in a line of this vocabulary
    (not reserved, not a key of the vocabulary, not a custom-field key, not shared with another
    slot); else it blocks. A slot with only values (or only labels) in the vocabulary keeps its
    keys as they are: its other half would be an unknown key.
    """
    emitted = {f"cef_ext_{k}" if k in RESERVED_KEYS else k for k in keys}
    kinds: dict[str, set[bool]] = {}
    for k in keys:
        if (info := _slot(k)) is not None:
            kinds.setdefault(info[0], set()).add(info[1])
    plan: dict[str, str] = {}
    blocked: set[str] = set()
    for slot, kind in kinds.items():
        if kind != {True, False}:
            continue
        labels = contents.get(slot, set())
        (label,) = labels if len(labels) == 1 else ("",)
        plain = label != "" and "\\" not in label and "=" not in label
        if plain and label not in RESERVED_KEYS and label not in emitted and _slot(label) is None:
            plan[slot] = label
        else:
            blocked.add(slot)
    counts: dict[str, int] = {}
    for label in plan.values():
        counts[label] = counts.get(label, 0) + 1
    for slot in [s for s, label in plan.items() if counts[label] > 1]:
        blocked.add(slot)
        del plan[slot]
    return plan, blocked


def _vocabulary_table(
    keys: set[str], plan: dict[str, str], blocked: set[str], e_mark: str, x_mark: str
) -> tuple[list[str], list[str]]:
    """The one multi-replace of the vocabulary path: key patterns (longest first, so a label pair
    wins over its key), then the value escapes, unescaped '=' and JSON escapes.

    A planned slot's label pair right before its value (`` cs1Label=<label> cs1=``) becomes the
    value's key at once; a label pair elsewhere becomes ``X L<i>_`` and a value elsewhere
    ``X V<i>_`` (settled by :func:`_settle_marks`); any other label of the slot ``X !``.
    """
    index = {slot: i for i, slot in enumerate(sorted(plan))}
    spellings: dict[str, tuple[list[str], list[str]]] = {slot: ([], []) for slot in plan}
    keyed: dict[str, str] = {}
    for k in keys:
        info = _slot(k)
        if info is None:
            out = f'","cef_ext_{k}":"' if k in RESERVED_KEYS else f'","{k}":"'
        elif info[0] in index:
            spellings[info[0]][info[1]].append(k)
            i = index[info[0]]
            out = f"{x_mark}!" if info[1] else f'","{x_mark}V{i}_":"'
        elif info[0] in blocked:
            out = f"{x_mark}!"
        else:
            out = f'","{k}":"'
        keyed[f" {k}="] = keyed[f"\t{k}="] = out
    seps = (" ", "\t")
    for slot, (values, labels) in spellings.items():
        label = plan[slot]  # plain text: its raw form is its JSON form
        for lk in labels:
            for s1 in seps:
                keyed[f"{s1}{lk}={label}"] = f"{x_mark}L{index[slot]}_"
                for vk in values:
                    for s2 in seps:
                        keyed[f"{s1}{lk}={label}{s2}{vk}="] = f'","{label}":"'
    pats = sorted(keyed, key=len, reverse=True)
    rest = _json_table({**_VALUE_ESCAPES, "=": e_mark}, keep=(e_mark, x_mark))
    return [*pats, *rest[0]], [*(keyed[p] for p in pats), *rest[1]]


def _settle_marks(
    out: pl.Series, plan: dict[str, str], e_mark: str, x_mark: str
) -> tuple[pl.Series, pl.Series]:
    """Lines holding markers: check them and settle them (labels dropped, values renamed, E back
    to '='). Returns the texts and whether each line fits the plan."""
    e, x = _rx(e_mark), _rx(x_mark)
    # a dropped label pair must be followed by another pair (or the end); an '=' run must end its
    # value (base64 padding), and must not end an unknown key
    ok = ~out.str.contains(rf'{x}L[0-9]+_[^"{x}]|{e}[^{e}"]|(?:^| |\\t){_KEY_CHARS}+{e}')
    labels = [plan[slot] for slot in sorted(plan)]
    for i in range(len(labels)):
        # a slot resolves on a line that holds both its value and its label
        ok = ok & (
            out.str.contains(f"{x_mark}L{i}_", literal=True)
            == out.str.contains(f"{x_mark}V{i}_", literal=True)
        )
    marks = [f"{x_mark}L{i}_" for i in range(len(labels))] + [f"{x_mark}V{i}_" for i in range(len(labels))]
    text = out.str.replace_many([*marks, e_mark], [""] * len(labels) + labels + ["="], leftmost=True)
    return text, ok & ~text.str.contains(x_mark, literal=True)


def _fast_members(
    ext: pl.Series, keys: set[str], plan: dict[str, str], blocked: set[str]
) -> tuple[pl.Series, pl.Series]:
    """Members texts (label-resolved, reserved keys renamed) and whether each line fits the plan."""
    import polars as pl

    e_mark, x_mark = _free_code_points(ext, 2)
    pats, repl = _vocabulary_table(keys, plan, blocked, e_mark, x_mark)
    out = (" " + ext).str.replace_many(pats, repl, leftmost=True)
    marked = out.str.contains(x_mark, literal=True) | out.str.contains(e_mark, literal=True)
    ok = pl.repeat(True, len(out), eager=True)
    if marked.any():
        where = marked.arg_true()
        text, fits = _settle_marks(out.gather(where), plan, e_mark, x_mark)
        out, ok = out.scatter(where, text), ok.scatter(where, fits)
    ok = ok & ((ext == "") | out.str.starts_with('"'))
    members = pl.select(pl.when(ext == "").then(pl.lit("")).otherwise(out.str.slice(1) + pl.lit('"')))
    return members.to_series(), ok


def _members(df: pl.DataFrame) -> pl.DataFrame:
    """``error`` and ``members`` (label-resolved) for a header frame: the vocabulary path for the
    lines that fit it, the general path for the rest."""
    import polars as pl

    cand = df.select(pl.col("hdr") & ~((pl.col("end") == "") & (pl.col("h6") == ""))).to_series()
    every = bool(cand.all())  # filters copy: skip them when they keep every line
    ext = df.select(_ext_expr()).to_series() if every else df.filter(cand).select(_ext_expr()).to_series()
    rows = df.get_column("row") if every else df.get_column("row").filter(cand)
    keys: set[str] = set()
    contents: dict[str, set[str]] = {}
    done: list[pl.DataFrame] = []
    for _ in range(_MAX_ROUNDS):
        if not len(rows):
            break
        sample = df.join(pl.DataFrame({"row": rows.gather(_spread(len(rows)))}), on="row", how="semi")
        raw = _extension(sample, rename_reserved=False)
        if not _learn(raw.filter(pl.col("error").is_null()).get_column("members"), keys, contents):
            break
        plan, blocked = _vocabulary_plan(keys, contents)
        members, ok = _fast_members(ext, keys, plan, blocked)
        if ok.all():
            done.append(pl.DataFrame({"row": rows, "members": members}))
            rows = rows.clear()
            break
        done.append(pl.DataFrame({"row": rows.filter(ok), "members": members.filter(ok)}))
        rows, ext = rows.filter(~ok), ext.filter(~ok)
    fast = pl.concat(done) if done else pl.DataFrame(schema={"row": pl.Int64, "members": pl.String})
    if len(done) > 1:
        fast = fast.sort("row")
    if fast.height == df.height:
        return fast.select(pl.lit(None, pl.String).alias("error"), "members")
    slow = _extension(df.join(fast, on="row", how="anti"), rename_reserved=True).select(
        "row", "error", "members"
    )
    slow = slow.with_columns(_resolve(slow.get_column("members")).alias("members"))
    both = pl.concat([fast.select("row", pl.lit(None, pl.String).alias("error"), "members"), slow])
    return df.select("row").join(both, on="row", how="left", maintain_order="left").select("error", "members")


def _records(batch: pl.DataFrame) -> pl.DataFrame:
    import polars as pl

    df = _header_frame(batch)
    rows = _head_columns(df.with_columns(_members(df)), encode=False)
    # the header as a JSON object, its closing brace dropped
    head = pl.struct(HEADER_KEYS).struct.json_encode().str.head(-1)
    opt = [
        pl.when(pl.col(k).is_not_null())
        .then(pl.lit(f',"{k}":') + _jstr(pl.col(k), _HEADER_MAP))
        .otherwise(pl.lit(""))
        for k in ("syslog_timestamp", "syslog_host")
    ]
    record = pl.concat_str([head, *opt, pl.col("members"), pl.lit("}")])
    return rows.select(pl.when(pl.col("error").is_null()).then(record).alias("record"), "error")


#: Below this many lines per part, a batch is not split across threads.
_MIN_PART_ROWS = 8192


def _threads() -> int:
    """How many batch parts run at once: the cores Polars uses."""
    import polars as pl

    return max(1, pl.thread_pool_size())


def parse_cef(lines: pa.Table, *, batch_rows: int = 100_000) -> pa.Table:
    """Parse CEF lines into JSON object texts, vectorised, ``batch_rows`` lines at a time.

    Each batch is cut into one part per core, parsed in parallel threads (Polars releases the
    GIL), so at most ``batch_rows`` lines are in flight.

    Args:
        lines: columns ``source_line`` (int64) and ``text`` (string, one line, no trailing CR/LF).
        batch_rows: how many lines are parsed at once (bounds peak memory).

    Returns:
        A table with the same rows in the same order: ``source_line``, ``record`` (JSON object text
        holding the header fields, syslog fields and extension pairs, custom fields under their
        labels; null when malformed) and ``error`` (why, or null).

    Examples:
        >>> import pyarrow as pa
        >>> t = parse_cef(pa.table({"source_line": [7], "text": ["CEF:0|a|b|c|d|e|f|x=1 y=a b"]}))
        >>> t.column("record")[0].as_py()[-33:], t.column("source_line")[0].as_py()
        ('"severity":"f","x":"1","y":"a b"}', 7)
    """
    import polars as pl
    import pyarrow as pa

    out_schema = pa.schema([("source_line", pa.int64()), ("record", pa.string()), ("error", pa.string())])
    lines = lines.select(["source_line", "text"])

    def part(start: int, size: int) -> pa.Table:
        df = pl.from_arrow(lines.slice(start, size))
        assert isinstance(df, pl.DataFrame)
        res = _records(df).with_columns(df.get_column("source_line"))
        table = res.select("source_line", "record", "error").to_arrow(compat_level=pl.CompatLevel.oldest())
        return table.cast(out_schema)

    n, threads = lines.num_rows, _threads()
    size = max(1, batch_rows)
    if threads > 1 and n >= 2 * _MIN_PART_ROWS:
        # equal parts, a multiple of the thread count, each at most batch_rows / threads lines
        parts = -(-n // max(_MIN_PART_ROWS, size // threads))
        parts = -(-parts // threads) * threads
        size = -(-n // parts)
    starts = range(0, n, size)
    if threads == 1 or len(starts) < 2:
        tables = [part(s, size) for s in starts]
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(threads, thread_name_prefix="cef") as pool:
            tables = list(pool.map(lambda s: part(s, size), starts))
    batches = [b for t in tables for b in t.to_batches()]
    return pa.Table.from_batches(batches, schema=out_schema)


def _first_wins(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        out.setdefault(k, v)
    return out


def parse_cef_raw(texts: Sequence[str | None]) -> list[dict[str, Any]]:
    """The raw layer: header fields and the extension map under the input's own keys.

    Runs the same vectorised split and decode as :func:`parse_cef`, without label resolution.
    Each result is ``{"version": int, "device_vendor": ..., ..., "severity": ..., "prefix": str,
    "syslog_timestamp": str | None, "syslog_host": str | None, "extensions": {key: value}}``
    or ``{"error": reason}``. A key given twice keeps its first value. ``None`` stands for a
    line that is not valid UTF-8.

    Examples:
        >>> parse_cef_raw(["<13>Sep 29 08:26:10 host CEF:1|V|P|1|100|n\\\\|m|5|cs1Label=x cs1=a\\\\\\\\n"])[0]
        {'version': 1, 'device_vendor': 'V', 'device_product': 'P', 'device_version': '1', 'signature_id': '100', 'name': 'n|m', 'severity': '5', 'prefix': '<13>Sep 29 08:26:10 host ', 'syslog_timestamp': 'Sep 29 08:26:10', 'syslog_host': 'host', 'extensions': {'cs1Label': 'x', 'cs1': 'a\\\\n'}}
        >>> parse_cef_raw(["CEF:0|a|b|c|d|e|f|k=v=w"])
        [{'error': "unescaped '=' in the value of 'k'"}]
    """
    import polars as pl

    df = pl.DataFrame({"text": list(texts)}, schema={"text": pl.String})
    rows = _split(df, rename_reserved=False)
    opt = [
        _jstr(pl.col(k), _HEADER_MAP).fill_null(pl.lit("null"))
        for k in ("prefix", "syslog_timestamp", "syslog_host")
    ]
    record = pl.concat_str(
        [
            pl.lit('{"version":') + pl.col("cef_version").str.strip_chars_start("0").replace("", "0"),
            *[pl.lit(f',"{k}":') + pl.col(k) for k in HEADER_KEYS[1:]],
            pl.lit(',"prefix":') + opt[0],
            pl.lit(',"syslog_timestamp":') + opt[1],
            pl.lit(',"syslog_host":') + opt[2],
            pl.lit(',"extensions":{') + pl.col("members").str.slice(1) + pl.lit("}}"),
        ]
    )
    out = rows.select(pl.when(pl.col("error").is_null()).then(record).alias("record"), "error")
    results: list[dict[str, Any]] = []
    for rec, err in zip(out.get_column("record").to_list(), out.get_column("error").to_list(), strict=True):
        if rec is None:
            results.append({"error": err})
            continue
        parsed = json.loads(rec, object_pairs_hook=_first_wins)
        results.append(parsed)
    return results
