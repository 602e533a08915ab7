"""PHI masking of free text: each kind of identifier, the patient's own names, English and Spanish dates."""

from __future__ import annotations

import pytest

from pxm.practices.feedback.text.phi_mask import mask


@pytest.mark.parametrize(("text", "expected", "kind"), [
    ("Call me at (555) 123-4567 please", "Call me at [PHONE] please", "phone"),
    ("my cell is 555-987-6543.", "my cell is [PHONE].", "phone"),
    ("reach me on 555.222.3333 or +1 555 444 5555", "reach me on [PHONE] or [PHONE]", "phone"),
    ("text 5551234567 anytime", "text [PHONE] anytime", "phone"),
    ("write to rosa.q@example.org today", "write to [EMAIL] today", "email"),
    ("My MRN 123456 was wrong", "My MRN [MRN] was wrong", "mrn"),
    ("medical record number: AB1234567.", "medical record number: [MRN].", "mrn"),
    ("mi expediente 98765432 no aparece", "mi expediente [MRN] no aparece", "mrn"),
    ("the number 12345678 on my wristband", "the number [MRN] on my wristband", "mrn"),
    ("seen on 3/14/2024 and 2024-03-15", "seen on [DATE] and [DATE]", "date"),
    ("surgery on March 14th, 2024 went fine", "surgery on [DATE] went fine", "date"),
    ("admitted 14 March 2024", "admitted [DATE]", "date"),
    ("me operaron el 14 de marzo de 2024", "me operaron el [DATE]", "date"),
    ("vine el 3 de enero y volví en febrero de 2025", "vine el [DATE] y volví en [DATE]", "date"),
    ("Dr. Smith was kind", "Dr. [NAME] was kind", "name"),
    ("nurse Maria Lopez helped me", "nurse [NAME] helped me", "name"),
    ("la enfermera Lucía y la Sra. Gómez", "la enfermera [NAME] y la Sra. [NAME]", "name"),
    ("Dra. Ruiz me atendió", "Dra. [NAME] me atendió", "name"),
])
def test_each_kind_is_masked(text: str, expected: str, kind: str) -> None:
    result = mask(text)
    assert result.text == expected
    assert result.counts.get(kind, 0) >= 1


def test_the_patients_own_names_are_masked_in_any_case() -> None:
    text = "My name is Rosalind Quillfeather. ROSALIND is what the nurse called me; quillfeather is on my chart."
    result = mask(text, names=["Rosalind Quillfeather", "Rosalind", "Quillfeather"])
    assert "osalind" not in result.text.lower()
    assert "quillfeather" not in result.text.lower()
    assert result.text.startswith("My name is [NAME].")
    assert result.counts["name"] == 3


def test_ordinary_words_after_titles_and_plain_text_survive() -> None:
    text = "The nurse I saw was kind. I asked the doctor. Then I went home. The wait was 3 hours."
    assert mask(text).text == text
    assert mask("").text == ""
    assert mask(None).counts == {}


def test_counts_never_hold_the_values() -> None:
    result = mask("Email rosa@example.org, MRN 445566", names=["Rosa"])
    assert set(result.counts) <= {"email", "mrn", "phone", "date", "name"}
    assert all(isinstance(v, int) for v in result.counts.values())
