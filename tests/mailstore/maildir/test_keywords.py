from __future__ import annotations

import threading

from hypothesis import given
from hypothesis import strategies as st

from mailstore.maildir.keywords import (
    KEYWORDS_FILE,
    KeywordMap,
    format_keywords,
    parse_keywords,
)


def test_missing_file_is_empty(tmp_path):
    kmap = KeywordMap.load(tmp_path)
    assert kmap.names == {}
    assert kmap.keywords_for("abc") == frozenset()


def test_assign_persist_reload(tmp_path):
    kmap = KeywordMap.load(tmp_path)
    assert kmap.letters_for(["Junk", "$Forwarded"]) == "ab"
    kmap.save(tmp_path)
    assert (tmp_path / KEYWORDS_FILE).read_bytes() == b"0 Junk\n1 $Forwarded\n"
    again = KeywordMap.load(tmp_path)
    assert again.keywords_for("Sba") == frozenset({"Junk", "$Forwarded"})
    assert again.letters_for(["$forwarded", "JUNK"]) == "ab"  # case-insensitive
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_dovecot_file_with_gaps_and_garbage(tmp_path):
    (tmp_path / KEYWORDS_FILE).write_bytes(
        b"0 Junk\n3 NonJunk\nx bad\n26 toolarge\n1\n2 \\Seen\n4 junk\n0 Dup\n\n5 $Label1\r\n"
    )
    kmap = KeywordMap.load(tmp_path)
    assert kmap.names == {0: "Junk", 3: "NonJunk", 5: "$Label1"}
    assert kmap.keywords_for("adf") == frozenset({"Junk", "NonJunk", "$Label1"})
    assert kmap.letters_for(["New", "NonJunk"]) == "bd"  # lowest free index is 1


def test_save_only_if_changed(tmp_path):
    kmap = KeywordMap.load(tmp_path)
    kmap.save(tmp_path)
    assert not (tmp_path / KEYWORDS_FILE).exists()
    kmap.letters_for([])
    kmap.letters_for(["\\Seen", "", "two words", "tab\there"])
    kmap.save(tmp_path)
    assert not (tmp_path / KEYWORDS_FILE).exists()


def test_only_26_fit(tmp_path):
    kmap = KeywordMap.load(tmp_path)
    many = [f"k{i}" for i in range(30)]
    letters = kmap.letters_for(many)
    assert letters == "abcdefghijklmnopqrstuvwxyz"
    assert kmap.letters_for(["k29", "k0"]) == "a"
    assert len(KeywordMap.load(tmp_path).names) == 26


def test_two_maps_concurrently(tmp_path):
    first = KeywordMap.load(tmp_path)
    second = KeywordMap.load(tmp_path)
    assert first.letters_for(["Junk"]) == "a"
    assert second.letters_for(["$Forwarded"]) == "b"  # never reuses "a"
    assert second.letters_for(["Junk"]) == "a"
    first.save(tmp_path)
    second.save(tmp_path)
    final = KeywordMap.load(tmp_path)
    assert final.names == {0: "Junk", 1: "$Forwarded"}


def test_in_memory_map_merges_on_save(tmp_path):
    (tmp_path / KEYWORDS_FILE).write_bytes(b"0 Theirs\n2 Other\n")
    kmap = KeywordMap()
    assert kmap.letters_for(["Mine", "Other", "Third"]) == "abc"  # provisional
    kmap.save(tmp_path)
    assert kmap.names == {0: "Theirs", 1: "Mine", 2: "Other", 3: "Third"}
    assert KeywordMap.load(tmp_path).names == kmap.names
    assert kmap.letters_for(["Mine", "Third"]) == "bd"


def test_threads_never_share_an_index(tmp_path):
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(3):
                kmap = KeywordMap.load(tmp_path)
                kmap.letters_for([f"t{n}-{i}", "shared"])
                kmap.save(tmp_path)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    names = KeywordMap.load(tmp_path).names
    expected = [f"t{n}-{i}" for n in range(6) for i in range(3)] + ["shared"]
    assert sorted(names.values()) == sorted(expected)
    assert sorted(names) == list(range(19))


@given(st.binary())
def test_parse_keywords_never_raises(data):
    names = parse_keywords(data)
    assert all(0 <= i < 26 for i in names)
    assert parse_keywords(format_keywords(names)) == names
