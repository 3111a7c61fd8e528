"""Templates rendered without Jinja (``templating.substitute``) give exactly Jinja's text.

The fast path serves only templates whose sole Jinja is ``{{ name }}`` of a set
variable; everything else must be left to Jinja (``None``), so that a user never sees a
template rendered differently, or an error missed, because of the shortcut.
"""

from __future__ import annotations

import pytest

from reconciler.specs import templating

VARIABLES = {"look": "AM054", "brand": "云知声", "n": 3, "ratio": 1.5, "flag": True, "nothing": None,
             "items": [1, "a"], "table": {"k": "v"}, "range": "shadowed", "quote": 'say "hi"\n'}

PLAIN = [
    "", "no jinja at all\n", "look_name: \"{{ look }}\"\n", "a: {{look}}\nb: {{  brand  }}\n",
    "{{ n }}{{ ratio }}{{ flag }}{{ nothing }}{{ items }}{{ table }}", "x: {{ range }}", "{{ quote }}",
    "}} braces alone {{ look }} }}}", "no trailing newline {{ look }}", "trailing\n\n\n",
    "{ {{ look }} }", "{{ look }}}",
]
LEFT_TO_JINJA = [
    "{{ missing }}", "{{ look | upper }}", "{{ look.upper() }}", "{{- look }}", "{{ look -}}", "{{\tlook }}",
    "{% if flag %}yes{% endif %}\n", "{# comment #}{{ look }}", "{{ true }}", "{{ none }}", "{{ None }}",
    "{{ self }}", "{{ loop }}", "{{ if }}", "a\r\nb {{ look }}", "{{{ look }}", "{% raw %}{{ look }}{% endraw %}",
    "{{ 'x' }}", "{{\nlook }}",
]


def jinja(source: str) -> str:
    return templating.render(templating.environment(), source, "t.yaml.j2", VARIABLES)


@pytest.mark.parametrize("source", PLAIN)
def test_plain_templates_are_rendered_without_jinja_to_the_same_text(source):
    fast = templating.substitute(source, VARIABLES)
    assert fast is not None
    assert fast == jinja(source)


@pytest.mark.parametrize("source", LEFT_TO_JINJA)
def test_anything_else_is_left_to_jinja(source):
    assert templating.substitute(source, VARIABLES) is None


def test_an_unset_variable_is_still_jinja_s_error_with_its_line():
    source = "a: {{ look }}\nb: {{ missing }}\n"
    assert templating.substitute(source, VARIABLES) is None
    with pytest.raises(templating.TemplateFailure) as failure:
        jinja(source)
    assert failure.value.line == 2 and "missing" in failure.value.message
