"""Signature vectors, each computed by hand from the vendor recipe.

Every expected value hashes a literal string written out here (the recipe applied by
hand), never the output of the code under test. The Xingyun document's own example
(ddc6457f...) matches no reading of its recipe (docs/vendors.md) and is not used.
"""

from __future__ import annotations

import hashlib
import json

from reconciler.model import UnisoundAuth
from reconciler.providers import signing

SECRET = "iamsecret"
TS = 1489133053
CREATE = "/user/v1/video_synthesis_task/create_render_task"


def md5(s: str) -> str:
    return hashlib.md5(s.encode("utf-8")).hexdigest()


def test_chinese_text_is_signed_as_ascii_escapes():
    data = {"video_name": "发布会开场 第一", "look_name": "AM054"}
    literal = (CREATE + "post"
               + '{"look_name":"AM054","video_name":"\\u53d1\\u5e03\\u4f1a\\u5f00\\u573a\\u7b2c\\u4e00"}'
               + "iamsecret" + "1489133053")
    assert signing.xingyun_token(CREATE, "POST", data, SECRET, TS) == md5(literal)


def test_spaces_inside_text_are_removed_from_the_signed_string_only():
    data = {"text": "hello big world", "a": 1}
    literal = CREATE + "post" + '{"a":1,"text":"hellobigworld"}' + "iamsecret" + "1489133053"
    assert signing.xingyun_token(CREATE, "POST", data, SECRET, TS) == md5(literal)
    # the body sent keeps the spaces: normal json.dumps of the same dict
    assert signing.xingyun_body(data) == b'{"text": "hello big world", "a": 1}'


def test_booleans_are_json_true_false():
    data = {"sub_title": "on", "if_aigc_mark": False, "x": True}
    literal = CREATE + "post" + '{"if_aigc_mark":false,"sub_title":"on","x":true}' + "iamsecret" + "1489133053"
    assert signing.xingyun_token(CREATE, "POST", data, SECRET, TS) == md5(literal)


def test_nested_segment_lists_sort_inner_keys():
    data = {
        "look_name": "L",
        "segment": [{"text": "a b", "media_url": "https://m/x.png"}, {"text": "同期"}],
        "if_aigc_mark": True,
    }
    literal = (CREATE + "post"
               + '{"if_aigc_mark":true,"look_name":"L",'
               + '"segment":[{"media_url":"https://m/x.png","text":"ab"},{"text":"\\u540c\\u671f"}]}'
               + "iamsecret" + "1489133053")
    assert signing.xingyun_token(CREATE, "POST", data, SECRET, TS) == md5(literal)


def test_get_signs_lowercased_path_with_query_and_empty_data():
    path = signing.xingyun_get_path("/user/v1/video_synthesis_task/Get_Render_Task", {"task_id": 135})
    assert path == "/user/v1/video_synthesis_task/Get_Render_Task?task_id=135"
    data = signing.xingyun_get_sign_data({"task_id": 135})
    assert data == {}
    literal = "/user/v1/video_synthesis_task/get_render_task?task_id=135" + "get" + "{}" + "iamsecret" + "1489133053"
    assert signing.xingyun_token(path, "GET", data, SECRET, TS) == md5(literal)


def test_multipart_upload_signs_empty_data():
    path = "/user/v1/video_synthesis_task/parse_ppt_file"
    literal = path + "post" + "{}" + "iamsecret" + "1489133053"
    data = signing.xingyun_multipart_sign_data()
    assert signing.xingyun_token(path, "POST", data, SECRET, TS) == md5(literal)


def test_xingyun_headers():
    headers = signing.xingyun_headers("ak-1", SECRET, CREATE, "POST", {}, TS)
    assert headers == {
        "X-APP-ID": "ak-1",
        "X-TIMESTAMP": "1489133053",
        "X-TOKEN": md5(CREATE + "post" + "{}" + "iamsecret" + "1489133053"),
    }
    assert SECRET not in repr(headers)


def test_body_is_plain_json_with_ascii_escapes():
    data = {"video_name": "发布 会", "segment": [{"text": "x y"}], "if_aigc_mark": True}
    body = signing.xingyun_body(data)
    assert body == b'{"video_name": "\\u53d1\\u5e03 \\u4f1a", "segment": [{"text": "x y"}], "if_aigc_mark": true}'
    assert json.loads(body) == data


def test_unisound_signature_is_upper_sha256_of_key_ts_secret():
    expected = hashlib.sha256("45gn7md5n44gv75saomys1700000000123ba24a917ab82a72e0d896".encode()).hexdigest().upper()
    assert signing.unisound_signature("45gn7md5n44gv75saomys", 1700000000123, "ba24a917ab82a72e0d896") == expected
    assert expected == expected.upper() and len(expected) == 64


def test_unisound_auth_values_default_to_the_documents_spelling():
    values = signing.unisound_auth_values("key", "sec", 1700000000123)
    assert values == {
        "appKey": "key",
        "timestamp": "1700000000123",
        "signature": hashlib.sha256(b"key1700000000123sec").hexdigest().upper(),
    }
    assert UnisoundAuth().place == "query"


def test_unisound_auth_values_take_the_configured_names():
    auth = UnisoundAuth("body", "appkey", "time", "sign")
    values = signing.unisound_auth_values("key", "sec", 1700000000123, auth)
    assert set(values) == {"appkey", "time", "sign"}
    assert values["sign"] == signing.unisound_signature("key", 1700000000123, "sec")


def test_unisound_auth_candidates_cover_every_placement_and_spelling_once():
    candidates = signing.unisound_auth_candidates()
    assert candidates[0] == UnisoundAuth()
    assert len(candidates) == len(set(candidates)) == 8 + 8 + 4  # header names ignore case
    assert UnisoundAuth("body", "appkey", "time", "sign") in candidates
    assert {c.place for c in candidates} == {"query", "body", "header"}


def test_unisound_body_is_utf8_json():
    assert signing.unisound_body({"text": "云知声", "type": 2}) == '{"text": "云知声", "type": 2}'.encode("utf-8")
