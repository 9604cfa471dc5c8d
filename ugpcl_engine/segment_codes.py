"""DICOM coded concepts for label classes: what a DICOM-SEG segment *is*.

A DICOM-SEG segment carries a "segmented property category" and a "segmented property type",
each a coded concept ``(coding scheme, code value, code meaning)``, e.g. category
``SCT 91723000 Anatomical Structure`` and type ``SCT 10200004 Liver``. A label class may carry
its own ``SegmentCode`` (set by the user or read from a file); without one, ``code_for`` picks a
default from the class name (a small table of common anatomy, codes as pydicom's code
dictionary, i.e. the DICOM standard, lists them) and falls back to ``Tissue`` / ``Tissue``.

Numpy-free and torch-free: ``volume.LabelClass`` holds a ``SegmentCode``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ugpcl_engine.errors import InputError


@dataclass(frozen=True)
class Concept:
    """One coded concept.

    Attributes:
        scheme: coding scheme designator (``SCT`` for SNOMED-CT, ``DCM`` for DICOM).
        value: the code value (``10200004``).
        meaning: the human-readable meaning (``Liver``).
    """

    scheme: str
    value: str
    meaning: str

    def __post_init__(self) -> None:
        for name, text in (
            ("scheme", self.scheme),
            ("value", self.value),
            ("meaning", self.meaning),
        ):
            if not str(text).strip():
                raise InputError(
                    f"A DICOM code needs a {name}; fill it in (e.g. SCT 10200004 Liver)."
                )
        if len(self.scheme) > 16 or len(self.value) > 64 or len(self.meaning) > 64:
            raise InputError(
                "A DICOM code's scheme is at most 16 characters, its value and meaning at most 64."
            )

    def as_list(self) -> list[str]:
        """``[scheme, value, meaning]`` (JSON, Slicer terminology order)."""
        return [self.scheme, self.value, self.meaning]


@dataclass(frozen=True)
class SegmentCode:
    """The category and type of a segment (DICOM ``SegmentedProperty*CodeSequence``).

    Attributes:
        category: e.g. ``SCT 91723000 Anatomical Structure``.
        type: e.g. ``SCT 10200004 Liver``.
    """

    category: Concept
    type: Concept

    def to_json(self) -> dict[str, list[str]]:
        """``{"category": [s, v, m], "type": [s, v, m]}``."""
        return {"category": self.category.as_list(), "type": self.type.as_list()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SegmentCode:
        """Inverse of ``to_json``.

        Raises:
            InputError: a missing part or a part that is not three texts.
        """
        try:
            parts = [Concept(*(str(v) for v in data[key])) for key in ("category", "type")]
        except (KeyError, TypeError, ValueError):
            raise InputError(f"Unreadable DICOM code {str(data)[:80]}.") from None
        return cls(parts[0], parts[1])


ANATOMY = Concept("SCT", "91723000", "Anatomical Structure")
ALTERED = Concept("SCT", "49755003", "Morphologically Abnormal Structure")
TISSUE = Concept("SCT", "85756007", "Tissue")
GENERIC = SegmentCode(TISSUE, TISSUE)

# name word(s) -> (category, SNOMED-CT type code, meaning); the first match wins, so the more
# specific entries come first. Values checked against pydicom's SNOMED-CT code dictionary.
_DEFAULTS: tuple[tuple[str, Concept, str, str], ...] = (
    (r"tumou?rs?|neoplasms?", ALTERED, "108369006", "Neoplasm"),
    (r"lesions?", ALTERED, "52988006", "Lesion"),
    (r"mass(es)?", ALTERED, "4147007", "Mass"),
    (r"cysts?", ALTERED, "367643001", "Cyst"),
    (r"cervical (spine|vertebral column)", ANATOMY, "122494005", "Cervical spine"),
    (r"thoracic (spine|vertebral column)", ANATOMY, "122495006", "Thoracic spine"),
    (r"lumbar (spine|vertebral column)", ANATOMY, "122496007", "Lumbar spine"),
    (r"pulmonary arter(y|ies)", ANATOMY, "81040000", "Pulmonary artery"),
    (r"portal vein", ANATOMY, "32764006", "Portal vein"),
    (r"inferior vena cava|ivc", ANATOMY, "64131007", "Inferior vena cava"),
    (r"adrenal glands?", ANATOMY, "23451007", "Adrenal gland"),
    (r"small intestine|small bowel", ANATOMY, "30315005", "Small intestine"),
    (r"liver", ANATOMY, "10200004", "Liver"),
    (r"lungs?", ANATOMY, "39607008", "Lung"),
    (r"heart", ANATOMY, "80891009", "Heart"),
    (r"kidneys?", ANATOMY, "64033007", "Kidney"),
    (r"spleen", ANATOMY, "78961009", "Spleen"),
    (r"aorta", ANATOMY, "15825003", "Aorta"),
    (r"brain", ANATOMY, "12738006", "Brain"),
    (r"pancreas", ANATOMY, "15776009", "Pancreas"),
    (r"gall ?bladder", ANATOMY, "28231008", "Gallbladder"),
    (r"(urinary )?bladder", ANATOMY, "89837001", "Bladder"),
    (r"prostate", ANATOMY, "41216001", "Prostate"),
    (r"(o)?esophagus", ANATOMY, "32849002", "Esophagus"),
    (r"trachea", ANATOMY, "44567001", "Trachea"),
    (r"stomach", ANATOMY, "69695003", "Stomach"),
    (r"colon", ANATOMY, "71854001", "Colon"),
    (r"rectum", ANATOMY, "34402009", "Rectum"),
    (r"duodenum", ANATOMY, "38848004", "Duodenum"),
    (r"ribs?", ANATOMY, "113197003", "Rib"),
    (r"sternum", ANATOMY, "56873002", "Sternum"),
    (r"femur", ANATOMY, "71341001", "Femur"),
    (r"skull", ANATOMY, "89546000", "Skull"),
    (r"vertebra(e)?", ANATOMY, "51282000", "Vertebra"),
    (r"spine|vertebral column", ANATOMY, "421060004", "Spine"),
    (r"bones?", ANATOMY, "272673000", "Bone"),
    (r"muscles?", ANATOMY, "71616004", "Muscle"),
    (r"skin", ANATOMY, "39937001", "Skin"),
    (r"thyroid( gland)?", ANATOMY, "69748006", "Thyroid"),
    (r"cerebellum", ANATOMY, "113305005", "Cerebellum"),
    (r"hippocampus", ANATOMY, "5366008", "Hippocampus"),
)
_PATTERNS = tuple(
    (re.compile(rf"\b({words})\b"), category, value, meaning)
    for words, category, value, meaning in _DEFAULTS
)


def default_code(name: str) -> SegmentCode:
    """Guess a segment's code from its name (``"left lung"`` → Anatomical Structure / Lung).

    Args:
        name: the class name; matched case-insensitively on whole words.

    Returns:
        The first matching entry of the built-in table, else ``Tissue`` / ``Tissue``.
    """
    text = " ".join(re.split(r"[\s_\-]+", name.lower()))
    for pattern, category, value, meaning in _PATTERNS:
        if pattern.search(text):
            return SegmentCode(category, Concept("SCT", value, meaning))
    return GENERIC


def code_for(name: str, code: SegmentCode | None) -> SegmentCode:
    """The code a class exports with: its own, else ``default_code(name)``."""
    return code if code is not None else default_code(name)


def codes_to_json(codes: Mapping[int, SegmentCode]) -> str:
    """Encode ``value -> code`` as JSON ``{"1": {"category": [...], "type": [...]}, ...}``."""
    return json.dumps({str(v): c.to_json() for v, c in sorted(codes.items())})


def codes_from_json(text: str) -> dict[int, SegmentCode]:
    """Decode ``codes_to_json``'s text.

    Raises:
        InputError: malformed text.
    """
    try:
        data = json.loads(text)
        return {int(v): SegmentCode.from_json(c) for v, c in dict(data).items()}
    except (ValueError, TypeError, AttributeError):
        raise InputError("The label codes cannot be read.") from None


def codes_of(classes: Iterable[Any]) -> dict[int, SegmentCode]:
    """The codes that label classes carry themselves (``value -> code``; defaults left out)."""
    return {int(c.value): c.code for c in classes if getattr(c, "code", None) is not None}
