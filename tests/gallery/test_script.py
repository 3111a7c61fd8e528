"""Scripts on the review page: escaped, and TTS tags shown as what they do."""

from reconciler.gallery.script import script_html, tts_html


def test_markup_in_a_script_is_text_not_html():
    html = str(tts_html("<script>alert(1)</script> & <img src=x onerror=alert(2)> 3<5 且 6>2"))
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;img src=x onerror=alert(2)&gt; 3&lt;5 且 6&gt;2" in html


def test_tts_tags_become_labelled_spans():
    html = str(tts_html('请您再说一遍<mute>300</mute>或说第<value>110</value>号<sub alias="毫米&quot;汞柱">mmHg</sub>'))
    assert '<span class="tts tts-mute" title="a pause (milliseconds)"><span class="tts-k">pause</span>300 ms</span>' in html
    assert '<span class="tts tts-value" title="read as a number (110: one hundred and ten)"><span class="tts-k">number</span>110</span>' in html
    assert '<span class="tts-k">says 毫米&amp;quot;汞柱</span>mmHg</span>' in html
    assert html.count("<span") == html.count("</span>")


def test_xingyun_segments_in_order_with_their_image_links_only_when_http():
    html = str(script_html("xingyun", {"segment": [{"text": "一 <b>", "media_url": "https://m.example.com/a.png"},
                                                   {"text": "二", "media_url": "javascript:alert(1)"}]}))
    assert html.startswith('<ol class="segments"><li>一 &lt;b&gt; <a class="media" href="https://m.example.com/a.png"')
    assert "javascript:" not in html
    assert "PowerPoint" in str(script_html("xingyun", {"look_name": "x"}))
