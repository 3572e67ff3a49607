"""Which legacy encoding a clients file is in: the rule of ``_cli/_encodings.py``, case by case."""

from __future__ import annotations

from pathlib import Path

import pytest

from agencyaccess_async._cli._common import UsageError
from agencyaccess_async._cli._encodings import choose_legacy, codec_name, encoding_label

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("spelled", "codec"),
    [("MacRoman", "mac-roman"), ("Mac OS Roman", "mac-roman"), ("latin9", "iso8859-15"),
     ("ISO-8859-15", "iso8859-15"), ("latin-9", "iso8859-15"), ("Windows-1252", "cp1252"),
     ("utf8", "utf-8")],
)  # fmt: skip
def test_usual_spellings(spelled: str, codec: str) -> None:
    assert codec_name(spelled) == codec


def test_an_unknown_encoding_is_one_line_with_examples() -> None:
    with pytest.raises(UsageError, match="not an encoding Python knows .*Mac OS Roman"):
        codec_name("klingon")


@pytest.mark.parametrize(
    ("text", "encoding", "chosen"),
    [
        ("Cœur de Lyon,5 €", "iso8859-15", "iso8859-15"),
        ("José Müller\rCafé Zoë", "mac-roman", "mac-roman"),
        ("O\u2019Brien \u2013 Söhne, €5", "cp1252", "cp1252"),
        ("José Café", "iso8859-15", "cp1252"),  # the same text in both: either is right
        ("Søren Ødegård, Fjord Æble", "cp1252", "cp1252"),
    ],
)
def test_the_clear_choice_is_taken(text: str, encoding: str, chosen: str) -> None:
    choice = choose_legacy(Path("f.csv"), text.encode(encoding))
    assert (choice.codec, choice.text) == (chosen, text)


def test_no_plausible_reading_is_refused_with_every_reading() -> None:
    with pytest.raises(UsageError) as refused:
        choose_legacy(Path("f.csv"), "name\nAcme 1½ Ltd\n".encode("cp1252"))
    message = str(refused.value)
    for codec in ("cp1252", "iso8859-15", "mac-roman"):
        assert f"--encoding {encoding_label(codec).replace(' ', '')} reads" in message
    assert "row 2" in message and "\n" not in message
