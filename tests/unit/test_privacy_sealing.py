"""The DSAR sealed box: only the job's private key opens it, and tampering is detected."""

import pytest
from cryptography.exceptions import InvalidTag

from summit_common.privacy import new_keypair, open_sealed, seal


def test_sealed_box_round_trips_for_the_job_key():
    private, public = new_keypair()
    box = seal(public, b'{"records": 1}')
    assert b"records" not in box.ciphertext.encode()
    assert open_sealed(private, box) == b'{"records": 1}'


def test_another_jobs_key_cannot_open_it():
    _, public = new_keypair()
    other_private, _ = new_keypair()
    with pytest.raises(InvalidTag):
        open_sealed(other_private, seal(public, b"secret"))


def test_an_altered_ciphertext_is_rejected():
    private, public = new_keypair()
    box = seal(public, b"secret")
    flipped = box.ciphertext[:-4] + ("AAAA" if box.ciphertext[-4:] != "AAAA" else "BBBB")
    with pytest.raises(InvalidTag):
        open_sealed(private, box.model_copy(update={"ciphertext": flipped}))
