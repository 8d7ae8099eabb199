"""Every user-visible string is translated (DoD 3): no empty or fuzzy entry in any zh-Hans catalogue,
and every catalogue is compiled."""

import re
from pathlib import Path

import pytest

import qcare

CATALOGUES = sorted(Path(qcare.__file__).parent.glob("*/locale/zh_Hans/LC_MESSAGES/django.po"))


def _entries(text):
    for block in text.split("\n\n")[1:]:  # the first block is the header
        if re.search(r"^msgid ", block, re.M):
            yield block


@pytest.mark.parametrize("path", CATALOGUES, ids=lambda p: p.parts[-5])
def test_catalogue_is_complete(path):
    untranslated = []
    for block in _entries(path.read_text(encoding="utf-8")):
        msgid = re.search(r'^msgid ((?:".*"\n?)+)', block, re.M).group(1)
        if re.search(r"^#,.*\bfuzzy\b", block, re.M):
            untranslated.append(("fuzzy", msgid))
            continue
        singular = re.search(r'^msgstr(?:\[0\])? ((?:".*"\n?)+)', block, re.M)
        if singular is None or not "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', singular.group(1))):
            untranslated.append(("empty", msgid))
    assert not untranslated, f"{path}: {untranslated[:10]}"


@pytest.mark.parametrize("path", CATALOGUES, ids=lambda p: p.parts[-5])
def test_compiled_catalogue_exists(path):
    compiled = path.with_suffix(".mo")
    assert compiled.exists(), f"{compiled} is missing: run compilemessages"
