"""Graders for day4/text.py: tokenising, vocabularies, encoding, decoding, padding."""

from __future__ import annotations

import re
import torch
from hypothesis import example, given
from hypothesis import strategies as st

from graders import reference, student
from graders.checks import assert_equal, equal_values, fail

mod = student("day4.text")
ref = reference("day4.text")

# Characters that exercise every branch of the rule: ASCII and accented letters, other scripts,
# digits of several kinds, punctuation and symbols, "_", and many kinds of whitespace.
_ALPHABET = st.sampled_from(
    list("abcXYZ019") + list("éÉßİ日本ж") + list("²٣") + list(".,!?'-_@#$:;()\"")
    + ["😀", "\u0301", "€"] + [" ", "\t", "\n", "\u00a0", "\u2003", "\r"]
)
texts = st.one_of(st.text(alphabet=_ALPHABET, max_size=30), st.text(max_size=20))


def _tokens_oracle(text: str) -> list[str]:
    # \w in Python's re is exactly str.isalnum() or "_"; \S is "not str.isspace()".
    return re.findall(r"[^\W_]+|\S", text.lower())


# --- tokenize ---------------------------------------------------------------------------------

@given(text=texts)
@example(text="x1_y2 3.14")  # "_" between alphanumerics, always tried
def test_tokenize_follows_the_rule(text):
    """Does tokenize lower-case, keep runs of alphanumerics together and split off every symbol?"""
    got = mod.tokenize(text)
    expected = _tokens_oracle(text)
    if not isinstance(got, list) or not all(type(t) is str for t in got):
        fail(f"tokenize({text!r}) returned {got!r}; expected a list of str.")
    if not equal_values(got, expected):
        hint = ""
        if any(t != t.lower() for t in got):
            hint = " Lower-case the text first (text.lower())."
        elif any("_" in t and t != "_" for t in got):
            hint = " '_' is not alphanumeric: it is a token of its own (\\w+ glues it to letters)."
        elif any(c.isdigit() for c in text) and len(got) > len(expected):
            hint = " Digits are alphanumeric (str.isalnum()), not only letters (str.isalpha())."
        elif any(not c.isalnum() and not c.isspace() for t in got for c in t if len(t) > 1):
            hint = (" Punctuation and symbols are tokens of one character each, split from the "
                    "words around them.")
        fail(f"tokenize({text!r}) returned {got!r}, expected {expected!r}.{hint}")


def test_tokenize_edge_cases():
    """Does tokenize handle empty text, whitespace-only text, repeated symbols and other scripts?"""
    cases = {
        "": [],
        " \t\n\u00a0 ": [],
        "Hello, World!!": ["hello", ",", "world", "!", "!"],
        "don't stop": ["don", "'", "t", "stop"],
        "x1_y2 3.14": ["x1", "_", "y2", "3", ".", "14"],
        "Ça coûte 5€": ["ça", "coûte", "5", "€"],
        "日本語のテキスト": ["日本語のテキスト"],
    }
    for text, expected in cases.items():
        assert_equal(mod.tokenize(text), expected, what=f"tokenize({text!r})")


# --- build_vocab ------------------------------------------------------------------------------

_TOKENS = st.sampled_from(["a", "b", "B", "c", "é", "z", "10", "9", "<pad>", "<unk>", ".", "ab"])
token_lists = st.lists(st.lists(_TOKENS, max_size=6), max_size=5)
specials_st = st.one_of(
    st.just(("<pad>", "<unk>")),
    st.lists(st.sampled_from(["<pad>", "<unk>", "<bos>", "a", "z"]), max_size=4).map(tuple),
)


def _check_vocab(got, expected, call):
    if not isinstance(got, dict):
        fail(f"{call} returned {type(got).__name__}; expected a dict {{token: id}}.")
    ids = sorted(got.values())
    if ids != list(range(len(got))):
        fail(f"{call} returned {got!r}: the ids must be 0, 1, 2, ... with no gaps or repeats "
             f"(a token that is also a special is not added a second time). Expected {expected!r}.")
    if not equal_values(got, expected):
        order_got = sorted(got, key=got.get)
        order_exp = sorted(expected, key=expected.get)
        fail(f"{call} gives the tokens in the order {order_got!r}, expected {order_exp!r}: "
             f"specials first (in their order, once each), then by descending count, ties in "
             f"code-point order (sorted(...) of the strings), only counts >= min_freq.")


@given(lists=token_lists, min_freq=st.integers(1, 3), specials=specials_st)
def test_build_vocab_orders_by_count_then_code_point(lists, min_freq, specials):
    """Does build_vocab put specials first, then tokens by descending count, ties by code point?"""
    got = mod.build_vocab([list(t) for t in lists], min_freq=min_freq, specials=specials)
    call = f"build_vocab({lists!r}, min_freq={min_freq}, specials={specials!r})"
    _check_vocab(got, ref.build_vocab([list(t) for t in lists], min_freq=min_freq, specials=specials), call)


def test_build_vocab_special_tokens_in_data():
    """Do specials that also occur in the data keep their special id, without duplicates?"""
    lists = [["<unk>", "x", "<unk>", "<pad>"], ["x", "<unk>", "y"]]
    got = mod.build_vocab(lists)
    _check_vocab(got, {"<pad>": 0, "<unk>": 1, "x": 2, "y": 3}, f"build_vocab({lists!r})")


def test_build_vocab_accepts_a_generator_and_defaults():
    """Does build_vocab read a one-pass generator, use the defaults, and break ties by code point?"""
    texts = [["b", "a"], ["a"], []]
    got = mod.build_vocab(t for t in texts)
    _check_vocab(got, {"<pad>": 0, "<unk>": 1, "a": 2, "b": 3},
                 "build_vocab(a generator of [['b', 'a'], ['a'], []])")
    lists = [["z", "b", "a", "b"], ["é", "B", "a"]]
    got = mod.build_vocab(lists, min_freq=1, specials=())
    _check_vocab(got, {"a": 0, "b": 1, "B": 2, "z": 3, "é": 4}, f"build_vocab({lists!r}, specials=())")
    got = mod.build_vocab(lists, min_freq=2)
    _check_vocab(got, {"<pad>": 0, "<unk>": 1, "a": 2, "b": 3}, f"build_vocab({lists!r}, min_freq=2)")


# --- encode / decode ----------------------------------------------------------------------------

@given(lists=token_lists, tokens=st.lists(_TOKENS | st.sampled_from(["new", "Z"]), max_size=8))
def test_encode_maps_unknown_tokens_to_unk(lists, tokens):
    """Does encode give each known token its id and every unknown token the id of "<unk>"?"""
    vocab = ref.build_vocab([list(t) for t in lists])
    got = mod.encode(list(tokens), vocab)
    expected = [vocab.get(t, vocab["<unk>"]) for t in tokens]
    if not isinstance(got, list) or not all(type(i) is int for i in got):
        fail(f"encode({tokens!r}, vocab) returned {got!r}; expected a list of Python ints.")
    if not equal_values(got, expected):
        fail(f"encode({tokens!r}, vocab={vocab!r}) returned {got!r}, expected {expected!r}. "
             f"Unknown tokens map to vocab['<unk>'] (here {vocab['<unk>']}) and are never "
             f"dropped.")


def test_encode_custom_unk_and_missing_unk():
    """Does encode honour a custom unk token, and raise KeyError when unk is missing too?"""
    vocab = {"<pad>": 0, "<oov>": 1, "<unk>": 2, "a": 3}
    assert_equal(mod.encode(["a", "q", "a"], vocab, unk="<oov>"), [3, 1, 3],
                 what="encode(['a', 'q', 'a'], vocab, unk='<oov>')")
    assert_equal(mod.encode([], vocab), [], what="encode([], vocab)")
    try:
        mod.encode(["a", "q"], {"a": 0})
    except KeyError:
        return
    except Exception as exc:  # noqa: BLE001
        fail(f"encode(['a', 'q'], {{'a': 0}}) raised {type(exc).__name__}; expected KeyError "
             f"(the token 'q' is unknown and there is no '<unk>').")
    fail("encode(['a', 'q'], {'a': 0}) returned without error; expected KeyError (the token "
         "'q' is unknown and there is no '<unk>' either).")


@given(lists=token_lists, picks=st.lists(st.integers(0, 100), max_size=8),
       as_tensor=st.booleans())
def test_decode_inverts_encode(lists, picks, as_tensor):
    """Does decode map ids back to their tokens (from a list or a 1-D tensor)?"""
    vocab = ref.build_vocab([list(t) for t in lists])
    # ids that are not in insertion order: decode must not rely on list(vocab)[i]
    shuffled = {tok: (i * 7 + 3) % len(vocab) for tok, i in vocab.items()} if len(vocab) % 7 else vocab
    itos = {i: t for t, i in shuffled.items()}
    ids = [p % len(shuffled) for p in picks]
    arg = torch.tensor(ids, dtype=torch.int64) if as_tensor else ids
    got = mod.decode(arg, shuffled)
    expected = [itos[i] for i in ids]
    if not isinstance(got, list) or not all(type(t) is str for t in got):
        fail(f"decode({arg!r}, vocab) returned {got!r}; expected a list of str (convert tensor "
             f"elements with int(i)).")
    if not equal_values(got, expected):
        fail(f"decode({arg!r}, vocab={shuffled!r}) returned {got!r}, expected {expected!r}. "
             f"Look ids up in the inverse mapping {{id: token}}, not by position in the dict.")


def test_decode_unknown_id_raises():
    """Does decode raise KeyError for an id that no token has?"""
    try:
        mod.decode([0, 5], {"<pad>": 0, "a": 1})
    except KeyError:
        return
    except Exception as exc:  # noqa: BLE001
        fail(f"decode([0, 5], {{'<pad>': 0, 'a': 1}}) raised {type(exc).__name__}; expected "
             f"KeyError.")
    fail("decode([0, 5], {'<pad>': 0, 'a': 1}) returned without error; expected KeyError.")


# --- pad_batch ----------------------------------------------------------------------------------

@given(seqs=st.lists(st.lists(st.integers(1, 50), max_size=6), max_size=5),
       pad_id=st.sampled_from([0, -1, 7]), as_tensors=st.booleans())
def test_pad_batch_right_pads_to_the_longest(seqs, pad_id, as_tensors):
    """Does pad_batch right-pad to the longest length and return int64 ids and lengths?"""
    arg = [torch.tensor(s, dtype=torch.int64) for s in seqs] if as_tensors else [list(s) for s in seqs]
    before = [s.clone() if isinstance(s, torch.Tensor) else list(s) for s in arg]
    got = mod.pad_batch(arg, pad_id)
    if not isinstance(got, tuple) or len(got) != 2:
        fail(f"pad_batch returned {type(got).__name__}; expected a tuple (ids, lengths).")
    longest = max((len(s) for s in seqs), default=0)
    ids = torch.full((len(seqs), longest), pad_id, dtype=torch.int64)
    for b, s in enumerate(seqs):
        ids[b, : len(s)] = torch.tensor(s, dtype=torch.int64)
    lengths = torch.tensor([len(s) for s in seqs], dtype=torch.int64)
    call = f"pad_batch({seqs!r}, pad_id={pad_id})"
    assert_equal(got[1], lengths, what=f"{call} lengths")
    assert_equal(got[0], ids, what=f"{call} ids (the sequence first, then pad_id: right padding)")
    for a, b in zip(arg, before):
        if (isinstance(a, torch.Tensor) and not equal_values(a, b)) or (isinstance(a, list) and a != b):
            fail(f"{call} modified its input sequences.")


def test_pad_batch_empty_inputs():
    """Does pad_batch handle an empty batch and a batch of empty sequences?"""
    ids, lengths = mod.pad_batch([], 0)
    assert_equal(ids, torch.zeros((0, 0), dtype=torch.int64), what="pad_batch([], 0) ids")
    assert_equal(lengths, torch.zeros((0,), dtype=torch.int64), what="pad_batch([], 0) lengths")
    ids, lengths = mod.pad_batch([[], []], 3)
    assert_equal(ids, torch.zeros((2, 0), dtype=torch.int64), what="pad_batch([[], []], 3) ids")
    assert_equal(lengths, torch.zeros((2,), dtype=torch.int64), what="pad_batch([[], []], 3) lengths")
