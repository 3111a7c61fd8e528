"""util/urls: hostile URLs parsed the way a person pasting them means, printed without
their secrets, and messages quoting them scrubbed of every piece of the password."""

from __future__ import annotations

import pytest

from reconciler.util import urls

HOSTILE = [
    # (url, user, password, host, port, redacted)
    ("postgresql://team:p@ss@db.example.com:5432/videos", "team", "p@ss", "db.example.com", 5432,
     "postgresql://team:***@db.example.com:5432/videos"),
    ("postgresql://team:a:b:c@db/videos", "team", "a:b:c", "db", None, "postgresql://team:***@db/videos"),
    ("postgresql://team:sl/ash@db/videos", "team", "sl/ash", "db", None, "postgresql://team:***@db/videos"),
    ("postgresql://team:q?x#y@db/videos", "team", "q?x#y", "db", None, "postgresql://team:***@db/videos"),
    ("postgresql://team:p%40ss%25@db/videos", "team", "p@ss%", "db", None, "postgresql://team:***@db/videos"),
    ("postgresql://team:100%@db/videos", "team", "100%", "db", None, "postgresql://team:***@db/videos"),
    ("postgresql://jos%C3%A9:pässwörd@db/v", "josé", "pässwörd", "db", None, "postgresql://jos%C3%A9:***@db/v"),
    ("postgresql://ünï:çødé@db/v", "ünï", "çødé", "db", None, "postgresql://ünï:***@db/v"),
    ("http://user:SECRET@[::1]:9000/b", "user", "SECRET", "[::1]", 9000, "http://user:***@[::1]:9000/b"),
    ("http://[2001:db8::1]/x", None, None, "[2001:db8::1]", None, "http://[2001:db8::1]/x"),
    ("postgresql://reconciler@db.example.com/videos", "reconciler", None, "db.example.com", None,
     "postgresql://reconciler@db.example.com/videos"),
    ("postgresql://postgres:@/db?host=/tmp/pg", "postgres", "", "", None, "postgresql://postgres:***@/db"),
]


@pytest.mark.parametrize("url, user, password, host, port, redacted", HOSTILE)
def test_the_last_at_ends_the_user_part_and_the_password_is_never_printed(url, user, password, host, port, redacted):
    parsed = urls.parse(url)
    assert (parsed.user, parsed.password, parsed.host, parsed.port) == (user, password, host, port)
    assert urls.redact(url) == redacted
    if password:
        assert password not in redacted and parsed.userinfo not in redacted


def test_the_query_and_fragment_are_dropped_and_their_credentials_are_secrets():
    url = "https://h.example.com/hook?access_token=T0KEN&sslmode=require&X-Amz-Signature=abc&password=pw#frag"
    assert urls.redact(url) == "https://h.example.com/hook"
    assert set(urls.parse(url).secrets()) == {"T0KEN", "abc", "pw"}


@pytest.mark.parametrize("url, why", [
    ("127.0.0.1:8333", "no scheme"),
    ("db.example.com/videos", "no scheme"),
    ("https://h.example.com:443x/send", "port"),
    ("https://h.example.com:99999/", "port"),
    ("https://h.example.com/se\x01nd", "control character"),
    ("https://h.example.com/a b", "space"),
    ("http://[::1/x", "host"),
])
def test_a_url_that_cannot_be_read_is_an_error_that_quotes_none_of_it(url, why):
    with pytest.raises(urls.UrlError) as caught:
        urls.parse(url)
    assert why in str(caught.value)
    assert "h.example.com" not in str(caught.value) and "8333" not in str(caught.value)
    assert "h.example.com" not in urls.redact(url) and "8333" not in urls.redact(url)


def test_a_driver_message_loses_every_piece_of_the_password():
    url = "postgresql://team:hold-Xy7@Zq9:k/Lm@127.0.0.1:5432/videos"
    # what libpq says when it takes the first @: the rest of the password quoted as a host
    message = "failed to resolve host 'Zq9:k/Lm@127.0.0.1': Name or service not known"
    scrubbed = urls.scrub_url(message, url)
    assert "Zq9" not in scrubbed and "k/Lm" not in scrubbed and "hold" not in scrubbed
    assert scrubbed.endswith("@127.0.0.1': Name or service not known")


def test_scrubbing_keeps_ordinary_text_and_masks_whole_secrets_and_urls_in_it():
    url = "postgresql://team:S3cretPw@db/videos"
    message = 'password authentication failed for user "team" at postgresql://team:S3cretPw@db/videos'
    assert urls.scrub_url(message, url) == ('password authentication failed for user "team" at '
                                            'postgresql://team:***@db/videos')


def test_urls_inside_text_are_redacted():
    text = 'Could not connect to the endpoint URL: "http://minio:SECRET@127.0.0.1:9/bk"'
    assert urls.redact_all(text) == 'Could not connect to the endpoint URL: "http://minio:***@127.0.0.1:9/bk"'
