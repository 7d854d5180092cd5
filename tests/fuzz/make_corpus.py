"""Writes the seed corpus in corpus/<target>/ (run from anywhere; deterministic).

Seeds are small and cover each branch the fuzz targets start from: well-formed tokens of
several prefixes, near misses (bad checksum, wrong length, bad characters, non-ASCII), scope
lists and vocabularies, and for fuzz_verify every mode byte with each known token index.
"""

from __future__ import annotations

import os
import random
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def b62(value: int, width: int) -> str:
    out = []
    for _ in range(width):
        value, d = divmod(value, 62)
        out.append(ALPHABET[d])
    return "".join(reversed(out))


def token(prefix: str, rng: random.Random) -> str:
    head = f"{prefix}_{b62(rng.randrange(1, 2**63), 11)}{''.join(rng.choice(ALPHABET) for _ in range(43))}"
    return head + b62(zlib.crc32(head.encode()), 6)


def write(target: str, name: str, data: bytes) -> None:
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def main() -> None:
    rng = random.Random(4)
    good = token("tk", rng)
    parse_seeds = {
        "valid_tk": good,
        "valid_long_prefix": token("abcdefghijklmnop", rng),
        "valid_one_char_prefix": token("x", rng),
        "bad_checksum": good[:-1] + ("A" if good[-1] != "A" else "B"),
        "truncated": good[:-1],
        "one_too_long": good + "0",
        "bad_char": good[:10] + "-" + good[11:],
        "non_ascii": (good[:20] + "\u00e9" + good[22:]),
        "upper_prefix": "TK" + good[2:],
        "no_underscore": good.replace("_", "", 1),
        "prefix_only": "tk_",
        "zero_id": (lambda h: h + b62(zlib.crc32(h.encode()), 6))("tk_" + "0" * 11 + "a" * 43),
        "max_id": (lambda h: h + b62(zlib.crc32(h.encode()), 6))(
            "tk_" + b62(2**63 - 1, 11) + "a" * 43
        ),
        "over_max_id": (lambda h: h + b62(zlib.crc32(h.encode()), 6))("tk_" + "z" * 11 + "a" * 43),
        "public_id": good[3:14],
        "vocabulary": "collection:read,write;device:read,write;policy:read,write",
        "vocabulary_corrupt": "device;policy:",
        "scopes": "device\0policy:read",
        "scope_unknown": "Device \0device:delete",
        "name_blanks": "  ci deploy \t",
        "name_unicode": "d\u00e9ploiement \u2603",
        "name_control": "ci\x85deploy",
        "empty": "",
    }
    for name, text in parse_seeds.items():
        write("fuzz_token_parse", name, text.encode("utf-8", "surrogatepass"))

    for name in ("valid_tk", "bad_checksum", "truncated", "non_ascii", "zero_id"):
        write("fuzz_verify", f"raw_{name}", b"\x00\x3f\x00" + parse_seeds[name].encode())
    write("fuzz_verify", "forged_body", b"\x01\x01\x00" + good[3:-6].encode())
    for index in range(7):
        secret = "".join(rng.choice(ALPHABET) for _ in range(43)).encode()
        write("fuzz_verify", f"wrong_secret_{index}", bytes([2, 0, 0, index]) + secret)
        write("fuzz_verify", f"near_miss_{index}", bytes([3, 3, 0, index, 20, ord("Q")]))
        write("fuzz_verify", f"typo_{index}", bytes([4, 0, 0, index, 30, ord("q")]))
        write(
            "fuzz_verify",
            f"exact_{index}_scopes",
            bytes([3, index * 9 % 64, 0, index, 0, ord("t")]),
        )

    # fuzz_networks: addresses and CIDRs of each shape, near misses, and comma-separated lists.
    network_seeds = [
        "10.0.0.1",
        "0.0.0.0/0",
        "255.255.255.255/32",
        "10.0.0.0/8",
        "10.0.0.1/8",
        "010.0.0.1",
        "256.1.1.1",
        "::",
        "::/0",
        "::1",
        "::1/128",
        "2001:db8::/32",
        "2001:DB8:0:0:1:0:0:1",
        "::ffff:10.1.2.3",
        "::ffff:10.0.0.0/104",
        "64:ff9b::192.0.2.1",
        "1:2:3:4:5:6:7::",
        "1::2::3",
        "fe80::1%eth0",
        "fe80::/10",
        "10.0.0.0/33",
        "2001:db8::/129",
        "10.0.0.0/08",
        "10.0.0.0/8,2001:db8::/32",
        "192.0.2.0/24,192.0.2.0/24,::ffff:192.0.2.0/120",
    ]
    for i, text in enumerate(network_seeds):
        write("fuzz_networks", f"seed_{i:02d}", text.encode())


if __name__ == "__main__":
    main()
