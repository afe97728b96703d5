"""The README's op list against the ops' register (`tinygraph.ops.described_ops`).

Every op users call must be named in the list (README.md, from "- **Ops**" to "- **Autograd**"),
and every name in the list must be something tinygraph has: a ``tg.<name>``, a Tensor method or
an operator. When an op is added, this test says which names the README is missing.
"""

import re
from pathlib import Path

import tinygraph as tg
from tinygraph.ops import described_ops

README = Path(__file__).resolve().parents[1] / "README.md"
# how the list spells the ops that are not called tg.<name>
SPELLED = {
    "add": "+",
    "sub": "-",
    "mul": "*",
    "div": "/",
    "neg": "-",
    "pow": "**",
    "pow_const": "**",
    "matmul": "@",
    "mod": "%",
    "getitem": "indexing",
}
PARAMETERS = {"axis", "keepdims", "ord"}  # words of the list that are not ops


def op_list(text: str) -> str:
    start = text.index("- **Ops**")
    return text[start : text.index("- **Autograd**", start)]


def listed(text: str) -> set[str]:
    """The words of the list's code spans (``tg.``, ``t.`` and ``()`` dropped), and "indexing"."""
    names = {"indexing"} if "indexing" in text else set()
    for span in re.findall(r"`([^`]+)`", text):
        for word in span.split():
            word = re.sub(r"^(tg\.|t\.|\.)", "", word).removesuffix("()")
            if word and "<" not in word:
                names.add(word)
    return names


def compare(text: str) -> tuple[list[str], list[str]]:
    """(ops of the register the list does not name, names in the list tinygraph does not have)."""
    names = listed(op_list(text))
    ops = [d.name for d in described_ops() if d.call is not None]  # (not the internal ones: index_add)
    missing = sorted(n for n in ops if SPELLED.get(n, n) not in names)
    known = set(SPELLED.values()) | PARAMETERS
    unknown = sorted(
        w
        for w in names
        if w not in known and not any(hasattr(m, w) for m in (tg, tg.Tensor, tg.linalg)) and w not in ops
    )
    return missing, unknown


def test_the_readme_lists_every_op_of_the_register_and_nothing_else():
    missing, unknown = compare(README.read_text())
    assert not missing, (
        f"ops in the register that README.md's op list (from '- **Ops**' to '- **Autograd**') does not name: "
        f"{', '.join(missing)}; add them there"
    )
    assert not unknown, f"README.md's op list names what tinygraph does not have: {', '.join(unknown)}"


def test_the_comparison_catches_a_missing_and_an_unknown_name():
    text = README.read_text()
    assert "`cbrt`, " in text and "`count_nonzero`" in text
    text = text.replace("`cbrt`, ", "").replace("`count_nonzero`", "")
    text = text.replace("- **Autograd**", "`no_such_op`\n- **Autograd**", 1)
    assert compare(text) == (["cbrt", "count_nonzero"], ["no_such_op"])
