"""A seeded mutator of the bundled threads: hostile variants of real mail, reproducible from (seed, case).

Each case takes a few mails of one or two bundled threads (small, so that a
case runs in a fraction of a second, and mixed revisions, so that `diff` has
versions to compare) and applies one to three mutations of the kinds fuzzing
found faults with: byte flips, truncation anywhere, garbled and duplicated
headers, odd [PATCH vN M/N] counters, reference cycles, nested and broken
MIME, NUL bytes, CR-only line ends, 1 MB lines and numbers of thousands of digits.
"""
from __future__ import annotations

import random
import re
from collections.abc import Callable
from functools import cache

from series.load import bundled_thread_path

THREADS = ("pte-v1", "pte-v2", "pte-v3")
MB = 1024 * 1024

_HEADER_VALUES = [
    b"=?utf-8?q?Rev=0D=0AX?= <rev@example.org>", b"Fri, 31 Dec 9999 23:59:59 -2359",
    b"=?utf-8?q?Fri=2C_31?= =?broken", b"<<a@b>>", b"<r\xe9@x>", b"\xff\xfe\x00", b"=?", b"<>",
    b"=?x-unknown?b?AAAA?=", b"=?utf-8?b?###?=", b"Mon, 32 Foo 0000 99:99:99 +9999", b"",
    b"\"unterminated <a@b", b"(((((((((((((", b"a" * 5000, b"<a@b> <a@b> <<<>>>", b"=?utf-8?q?=00?= <x@y>",
]
_CHARSETS = [b"idna", b"utf-7", b"utf-8\\0", b"utf-8\x00", b"x-unknown", b"utf-16", b"base64",
             b"rot13", b"punycode", b"\"", b"us-ascii", b"iso-8859-1"]
_COUNTERS = [b"v0 0/0", b"v99999999999 1/2", b"1/99999999", b"5/3", b"3/0", b"v2 9999/9999",
             b"v-1 1/1", b"00000000000000000001/1", b"RFC v2 2/1", b"v1000 1/1", b"v1001 1/2",
             b"v2 1/1000", b"v2 1/1001", b"RESEND v3 1/15", b"v3 99999999/2"]
_LONG_LINES = [b"Reviewed-by: ", b"+", b"", b"Subject: ", b"> ", b"Link: https://", b"Fixes: 0123456789ab ("]


@cache
def _messages(name: str) -> list[bytes]:
    raw = bundled_thread_path(name).read_bytes()
    return [m for m in re.split(rb"(?m)^(?=From )", raw) if m]


@cache
def _patches_and_others(name: str) -> tuple[list[bytes], list[bytes]]:
    """The patch mails of a bundled thread, and the others (cover letter, replies, robot reports)."""
    patches = [m for m in _messages(name) if re.search(rb"(?m)^Subject: \[PATCH", m) and b"\ndiff --git" in m]
    return patches, [m for m in _messages(name) if m not in patches]


def make_case(seed: int, case: int) -> tuple[bytes, list[str]]:
    """The mbox bytes of case `case` of run `seed`, and the mutations applied (for the report)."""
    rng = random.Random(f"{seed}:{case}")
    names = rng.sample(THREADS, rng.choice((1, 1, 2)))
    mails = []
    for name in sorted(names):
        patches, others = _patches_and_others(name)
        cover, *replies = others  # the cover letter comes first: with it, revisions compare as one series
        mails += [cover, *rng.sample(replies, rng.randint(0, 2)), *rng.sample(patches, rng.randint(1, 2))]
    applied = []
    for _ in range(rng.randint(1, 3)):
        mutation = rng.choice(MUTATIONS)
        mails = mutation(rng, mails)
        applied.append(mutation.__name__)
    return b"".join(mails), [f"{'+'.join(sorted(names))}"] + applied


def _one(rng: random.Random, mails: list[bytes]) -> int:
    return rng.randrange(len(mails))


def _split(mail: bytes) -> tuple[bytes, bytes]:
    head, sep, body = mail.partition(b"\n\n")
    return head, sep + body


def byte_flips(rng: random.Random, mails: list[bytes]) -> list[bytes]:
    i = _one(rng, mails)
    data = bytearray(mails[i])
    for _ in range(rng.randint(1, 8)):
        if data:
            data[rng.randrange(len(data))] = rng.randrange(256)
    return [*mails[:i], bytes(data), *mails[i + 1:]]


def truncate(rng: random.Random, mails: list[bytes]) -> list[bytes]:
    joined = b"".join(mails)
    return [joined[: rng.randrange(len(joined) + 1)]]


def garble_header(rng: random.Random, mails: list[bytes]) -> list[bytes]:
    i = _one(rng, mails)
    head, body = _split(mails[i])
    name = rng.choice([b"From", b"Date", b"Message-ID", b"Message-Id", b"In-Reply-To", b"References",
                       b"Subject", b"To", b"Cc", b"Content-Type", b"Reply-To"])
    value = rng.choice(_HEADER_VALUES)
    head, n = re.subn(rb"(?mi)^" + name + rb":.*(\n[ \t].*)*", lambda _m: name + b": " + value, head, count=1)
    if not n:
        head += b"\n" + name + b": " + value
    return [*mails[:i], head + body, *mails[i + 1:]]


def duplicate_header(rng: random.Random, mails: list[bytes]) -> list[bytes]:
    i = _one(rng, mails)
    head, body = _split(mails[i])
    lines = head.split(b"\n")
    line = rng.choice(lines[1:] or lines)
    lines.insert(rng.randint(1, len(lines)), line)
    return [*mails[:i], b"\n".join(lines) + body, *mails[i + 1:]]


def odd_counter(rng: random.Random, mails: list[bytes]) -> list[bytes]:
    i = _one(rng, mails)
    mail = re.sub(rb"\[(?:RFC )?PATCH[^\]]*\]", b"[PATCH " + rng.choice(_COUNTERS) + b"]", mails[i], count=1)
    return [*mails[:i], mail, *mails[i + 1:]]


def reply_cycle(rng: random.Random, mails: list[bytes]) -> list[bytes]:
    """Two mails whose In-Reply-To (and References) point at each other."""
    if len(mails) < 2:
        return mails
    a, b = rng.sample(range(len(mails)), 2)
    ids = [re.search(rb"(?mi)^Message-ID:\s*(<[^>\n]*>)", mails[k]) for k in (a, b)]
    if not all(ids):
        return mails
    out = list(mails)
    for k, other in ((a, ids[1][1]), (b, ids[0][1])):
        head, body = _split(out[k])
        head = re.sub(rb"(?mi)^(In-Reply-To|References):.*(\n[ \t].*)*\n?", b"", head)
        out[k] = head + b"\nIn-Reply-To: " + other + b"\nReferences: " + other + body
    return out


def broken_mime(rng: random.Random, mails: list[bytes]) -> list[bytes]:
    i = _one(rng, mails)
    head, body = _split(mails[i])
    head = re.sub(rb"(?mi)^Content-(Type|Transfer-Encoding):.*(\n[ \t].*)*\n?", b"", head)
    charset = rng.choice(_CHARSETS)
    inner = (b"Content-Type: text/plain; charset=\"" + charset + b"\"\n"
             + rng.choice([b"", b"Content-Transfer-Encoding: base64\n", b"Content-Transfer-Encoding: quoted-printable\n"]))
    depth = rng.randint(1, 30)
    opening = b"".join(b"--b%d\nContent-Type: multipart/mixed; boundary=\"b%d\"\n\n" % (d, d + 1) for d in range(depth))
    closing = b"".join(b"\n--b%d--\n" % d for d in reversed(range(depth + 1)) if rng.random() < 0.7)
    payload = body.lstrip(b"\n")
    if rng.random() < 0.3:
        payload = b"+2D0- +AGEA- \xff\xfe =ZZ =\n" + payload
    mail = (head + b"\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b0\"\n\n"
            + opening + b"--b%d\n" % depth + inner + b"\n" + payload + closing)
    return [*mails[:i], mail, *mails[i + 1:]]


def nul_bytes(rng: random.Random, mails: list[bytes]) -> list[bytes]:
    i = _one(rng, mails)
    data = bytearray(mails[i])
    for _ in range(rng.randint(1, 10)):
        data.insert(rng.randrange(len(data) + 1), 0)
    return [*mails[:i], bytes(data), *mails[i + 1:]]


def cr_only(rng: random.Random, mails: list[bytes]) -> list[bytes]:
    i = _one(rng, mails)
    head, body = _split(mails[i])
    mail = head + body.replace(b"\n", b"\r") if rng.random() < 0.5 else mails[i].replace(b"\n", b"\r")
    return [*mails[:i], mail, *mails[i + 1:]]


def long_line(rng: random.Random, mails: list[bytes]) -> list[bytes]:
    i = _one(rng, mails)
    data = mails[i]
    at = data.find(b"\n", rng.randrange(len(data))) + 1 or len(data)
    line = rng.choice(_LONG_LINES) + bytes([rng.choice(b"a@. #:(")]) * rng.choice((MB, 50_000, 3000))
    return [*mails[:i], data[:at] + line + b"\n" + data[at:], *mails[i + 1:]]


def huge_number(rng: random.Random, mails: list[bytes]) -> list[bytes]:
    """A number in a counter, hunk header, diffstat or robot report grown to thousands of digits."""
    i = _one(rng, mails)
    runs = list(re.finditer(rb"\d+", mails[i]))
    if not runs:
        return mails
    run = rng.choice(runs)
    digits = b"9" * rng.choice((12, 5000))
    return [*mails[:i], mails[i][:run.start()] + digits + mails[i][run.end():], *mails[i + 1:]]


def shuffle_and_duplicate(rng: random.Random, mails: list[bytes]) -> list[bytes]:
    out = list(mails)
    rng.shuffle(out)
    if rng.random() < 0.5:
        out.insert(rng.randint(0, len(out)), rng.choice(out))
    return out


MUTATIONS: list[Callable[[random.Random, list[bytes]], list[bytes]]] = [
    byte_flips, truncate, garble_header, garble_header, duplicate_header, odd_counter, odd_counter,
    reply_cycle, broken_mime, nul_bytes, cr_only, long_line, huge_number, huge_number, shuffle_and_duplicate,
]
