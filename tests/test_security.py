"""Tokens: random, never handed out twice, not even across a fork; their digests grow with
time."""

from __future__ import annotations

import os
import threading

from api.security import new_token, random_bytes, token_hash


def test_random_bytes_are_never_handed_out_twice_across_threads() -> None:
    taken: list[bytes] = []
    lock = threading.Lock()

    def take() -> None:
        mine = [random_bytes(32) for _ in range(500)]  # several 4 KiB draws
        with lock:
            taken.extend(mine)

    threads = [threading.Thread(target=take) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(taken) == 2000
    assert len(set(taken)) == 2000
    assert all(len(chunk) == 32 for chunk in taken)
    assert len(random_bytes(5000)) == 5000  # more than a draw at once


def test_a_forked_child_does_not_repeat_its_parents_random_bytes() -> None:
    random_bytes(1)  # the pool holds bytes the child would inherit
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover (the child)
        try:
            os.write(writer, random_bytes(32) + new_token()[0].encode())
        finally:
            os._exit(0)
    os.close(writer)
    os.waitpid(child, 0)
    with os.fdopen(reader, "rb") as pipe:
        sent = pipe.read()
    childs_bytes, childs_token = sent[:32], sent[32:].decode()
    assert random_bytes(32) != childs_bytes
    assert new_token()[0][11:] != childs_token[11:]


def test_a_token_is_its_time_then_43_random_characters_and_its_digest_keeps_the_time() -> None:
    token, digest = new_token()
    assert len(token) == 54 and len(digest) == 64
    assert digest == token_hash(token)
    assert digest[:11] == token[:11] and int(token[:11], 16) > 0
    assert all(c.isalnum() or c in "-_" for c in token)
